set project_name "tiny_trigger"
set device "xcvu13p-flga2577-2-e"
set source_type "verilog"

set prj_root [file normalize [file dirname [info script]]]
set top_module "${project_name}"
set output_dir "${prj_root}/output_${project_name}"

# (the rest of da4ml's script is left out: the readers need only the project name)
