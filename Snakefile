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


# Run on the submitting host, not as cluster jobs (with `--executor slurm`): the downloads
# (compute nodes often have no internet) and the light table steps after the detector, which
# take seconds each and would otherwise wait in the queue once per file.
localrules:
    all,
    fetch_ck04,
    fetch_mirabest,
    catalogue_to_coco,
    evaluate_detector,
    evaluate_catalogue,
    compare_finders,


rule all:
    default_target: True
    input:
        all_targets(),
