# skysift workflow: includes and the default target only; logic lives in src/skysift.
from snakemake.utils import min_version

min_version("9.0")


configfile: "config/config.yaml"


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/detect.smk"
include: "workflow/rules/predict.smk"
include: "workflow/rules/ssl.smk"
include: "workflow/rules/sed.smk"
include: "workflow/rules/diffusion.smk"


rule all:
    default_target: True
    input:
        all_targets(),
