# Config validation, path helpers and input functions. No science here.
import os
import re
import shlex

from snakemake.utils import validate

from skysift.config import project_config_from_mapping

# The schema is generated from the pydantic models (`skysift config-schema`); a test keeps them equal.
validate(config, schema="../schemas/config.schema.yaml")
CFG = project_config_from_mapping(config, source="config")
RESULTS = CFG.results_dir
# Software of every rule: the pinned environment, relative to the rule files. Used with
# `--sdm conda`; `make demo` runs the rules in the project's .venv instead.
SKYSIFT_ENV = "../../envs/skysift.yaml"

SIM_MAPS = [f"sim{i:03d}" for i in range(CFG.simulate.n_maps)]
REAL_MAPS = {entry.name: entry for entry in CFG.ingest.maps}
ALL_MAPS = SIM_MAPS + list(REAL_MAPS)
LABELLED_MAPS = SIM_MAPS + [n for n, e in REAL_MAPS.items() if e.annotations]


BASELINES = ("pybdsf", "aegean")
# Map-level finders scored on the test cutouts: skysift's whole-map prediction and the baselines.
FINDERS = ("skysift", *BASELINES)
FINDER_LABELS = {
    "skysift": "skysift (whole map)",
    "pybdsf": "PyBDSF",
    "aegean": "Aegean",
}
# Catalogue column that orders each finder's detections (mAP): the model's score, else S/N.
FINDER_SCORE_COLUMNS = {"skysift": "score", "pybdsf": "snr", "aegean": "snr"}
# Finder and matching mode of each evaluated catalogue: baselines by position and by mask IoU.
CATALOGUE_EVALUATIONS = [("skysift", "mask")] + [
    (finder, match) for finder in BASELINES for match in ("position", "mask")
]


wildcard_constraints:
    finder="|".join(FINDERS),
    ssl_map=r"ssl\d{3}",
    ssl_data="random|curated",
    ssl_method="simclr|byol|dino",
    task="sim6|mirabest",
    match="mask|position",
    split="train|val|test",
    name="|".join(map(re.escape, ALL_MAPS)) if ALL_MAPS else "(?!x)x",


# Keys of a section that concern the whole workflow, not one job (the list of maps, their
# number): left out of a job's params, so that adding a map reruns only that map's jobs.
WORKFLOW_LEVEL_KEYS = {"simulate": {"n_maps"}, "ingest": {"maps"}}


def section_settings(section, exclude=()):
    """A config section (dotted for a sub-section, e.g. "sed.embed") as inline JSON for
    `--settings`, without the keys in `exclude` and the section's workflow-level keys; as
    params, Snakemake tracks changes."""
    model = CFG
    for part in section.split("."):
        model = getattr(model, part)
    skipped = set(exclude) | WORKFLOW_LEVEL_KEYS.get(section, set())
    return shlex.quote(model.model_dump_json(exclude=skipped))


def map_seed(wildcards):
    """Seed of one simulated map, derived from the master seed and the map's index."""
    return CFG.seed * 1000 + SIM_MAPS.index(wildcards.name)


def raw_map(wildcards):
    """The map a name stands for: the simulator's output or the user's FITS file."""
    if wildcards.name in REAL_MAPS:
        return REAL_MAPS[wildcards.name].path
    return f"{RESULTS}/sky/{wildcards.name}/map.fits"


def ingest_options(wildcards):
    """Beam, survey and frequency flags of a real map (empty for simulated maps)."""
    entry = REAL_MAPS.get(wildcards.name)
    return shlex.join(entry.ingest_arguments()) if entry else ""


def truth_dir(name):
    """Folder holding truth.fits and segmentation.fits of a labelled map."""
    if name in REAL_MAPS:
        return f"{RESULTS}/annotations/{name}"
    return f"{RESULTS}/sky/{name}"


def annotation_source(wildcards):
    return REAL_MAPS[wildcards.name].annotations


def annotation_flag(wildcards):
    return REAL_MAPS[wildcards.name].annotation_flag()


def cutout_inputs(kind):
    """Per labelled map: the ingested map, or its segmentation or truth file."""
    if kind == "map":
        return [f"{RESULTS}/maps/{name}/map.fits" for name in LABELLED_MAPS]
    return [f"{truth_dir(name)}/{kind}.fits" for name in LABELLED_MAPS]


def repeated_flag(flag, paths):
    return " ".join(f"{flag} {shlex.quote(str(p))}" for p in paths)


def finder_dir(finder):
    """Folder of a map-level finder's per-map outputs (catalogue.fits, segmentation.fits)."""
    return (
        f"{RESULTS}/predict" if finder == "skysift" else f"{RESULTS}/baselines/{finder}"
    )


def finder_outputs(kind):
    """Input function: one finder's catalogue or segmentation for every labelled map."""

    def paths(wildcards):
        folder = finder_dir(wildcards.finder)
        return [f"{folder}/{name}/{kind}.fits" for name in LABELLED_MAPS]

    return paths


def finder_map_entries(wildcards):
    """`--map-name N --catalogue C --segmentation S` for every labelled map of a finder."""
    folder = finder_dir(wildcards.finder)
    return " ".join(
        f"--map-name {name} --catalogue {folder}/{name}/catalogue.fits "
        f"--segmentation {folder}/{name}/segmentation.fits"
        for name in LABELLED_MAPS
    )


def finder_panel_files(name):
    """(label, catalogue, segmentation) of every map-level finder on one map."""
    return [
        (
            FINDER_LABELS[f].split(" (")[0],
            f"{finder_dir(f)}/{name}/catalogue.fits",
            f"{finder_dir(f)}/{name}/segmentation.fits",
        )
        for f in FINDERS
    ]


def finder_panel_inputs(wildcards):
    return [path for _, *paths in finder_panel_files(wildcards.name) for path in paths]


def finder_panel_flags(wildcards):
    """`--panel LABEL CATALOGUE SEGMENTATION` per finder, skysift first."""
    return " ".join(
        f"--panel {shlex.join(entry)}" for entry in finder_panel_files(wildcards.name)
    )


def comparison_entries(wildcards, input):
    """`--entry NAME EVAL_DIR RUNTIME...` for skysift (cutouts, whole map) and the baselines."""
    evaluation = f"{RESULTS}/evaluation"
    entries = [
        [
            "skysift (cutouts)",
            f"{evaluation}/skysift",
            f"{RESULTS}/benchmarks/predict_cutouts/test.tsv",
        ]
    ]
    for finder, match in CATALOGUE_EVALUATIONS:
        if finder == "skysift":
            runtimes = [
                f"{RESULTS}/benchmarks/predict_map/{n}.tsv" for n in LABELLED_MAPS
            ]
            label = FINDER_LABELS[finder]
        else:
            runtimes = [
                f"{RESULTS}/baselines/{finder}/{n}/runtime.json" for n in LABELLED_MAPS
            ]
            label = f"{FINDER_LABELS[finder]} ({match})"
        entries.append([label, f"{evaluation}/{finder}_{match}", *runtimes])
    return " ".join(f"--entry {shlex.join(entry)}" for entry in entries)


GRID_FILE = "ck04_subset.npz"
CK04_CACHE = str(CFG.fetch.cache_path() / "ck04" / GRID_FILE)


def sed_grid():
    """The CK04 grid: sed.grid_path, else the shared copy beside the checkout, else the fetch
    cache (filled by rule fetch_ck04 when missing; that one needs the network)."""
    from skysift.sed.grid import grid_candidates

    if CFG.sed.grid_path:
        return grid_candidates(CFG.sed.grid_path)[0]
    for candidate in grid_candidates():
        if candidate.is_file():
            return str(candidate)
    return CK04_CACHE


SED = f"{RESULTS}/sed"
# Sub-sections of `sed` that only the stages after sed-synth read (kept out of its params).
from skysift.sed.config import ANALYSIS_SECTIONS as SED_ANALYSIS_SECTIONS


def sed_catalogue():
    """The catalogue sed_classify reads: sed.catalogue.path, else the Green et al. (2021) stars
    in the shared data beside the checkout; None when neither exists."""
    from skysift.sed.catalogue import default_catalogue_path

    if CFG.sed.catalogue.path:
        return CFG.sed.catalogue.path
    path = default_catalogue_path()
    return str(path) if path.is_file() else None


def sed_validation_possible():
    """Whether the classified catalogue keeps the label columns sed_validate scores against."""
    kept = set(CFG.sed.catalogue.keep_columns)
    labels = {CFG.sed.validation.teff_column, CFG.sed.validation.ebv_column}
    return sed_catalogue() is not None and labels <= kept


# SSL benchmark: labelled simulated maps, unlabelled survey sets, pretraining runs, tasks.
SSL_MAPS = [f"ssl{i:03d}" for i in range(CFG.ssl.labelled_sky.n_maps)]
SSL_RUNS = [(d, m) for d in CFG.ssl.pretrain.datasets for m in CFG.ssl.pretrain.methods]


def ssl_sky_settings():
    """The simulate section with the labelled set's populations, as inline JSON."""
    simulation = CFG.ssl.labelled_sky.simulation(CFG.simulate)
    return shlex.quote(
        simulation.model_dump_json(exclude=WORKFLOW_LEVEL_KEYS["simulate"])
    )


def ssl_map_seed(wildcards):
    """Seed of a labelled SSL map: distinct from every survey map's seed."""
    return (
        CFG.seed * 1000
        + CFG.ssl.labelled_sky.seed_offset
        + SSL_MAPS.index(wildcards.ssl_map)
    )


def ssl_sky_flags(wildcards, input):
    """`--sky DIR` for every labelled SSL map folder."""
    return repeated_flag("--sky", [os.path.dirname(p) for p in input.maps])


def curated_catalogue(name):
    """Source catalogue of a map for curated cutouts: truth, else the PyBDSF catalogue."""
    if name in SIM_MAPS or name in LABELLED_MAPS:
        return f"{truth_dir(name)}/truth.fits"
    return f"{RESULTS}/baselines/pybdsf/{name}/catalogue.fits"


def curated_pairs(wildcards, input):
    """`--map M --catalogue C` for every survey map."""
    return " ".join(
        f"--map {m} --catalogue {c}"
        for m, c in zip(input.maps, input.catalogues, strict=True)
    )


def ssl_backbones():
    """Every pretrained backbone the benchmark compares."""
    return [f"{RESULTS}/ssl/pretrain/{d}/{m}/backbone.pt" for d, m in SSL_RUNS]


def ssl_backbone_flags(wildcards, input):
    """`--backbone ssl_<data>_<method>=FILE` per pretraining run."""
    return " ".join(
        f"--backbone ssl_{d}_{m}={path}"
        for (d, m), path in zip(SSL_RUNS, input.backbones, strict=True)
    )


MIRABEST_CACHE = str(CFG.fetch.cache_path() / "mirabest" / "batches")


def mirabest_dir():
    """MiraBest batches: ssl.mirabest_dir, else the shared copy, else the fetch cache (filled
    by rule fetch_mirabest when missing; that one needs the network)."""
    from skysift.ssl.external import mirabest_candidates

    if CFG.ssl.mirabest_dir:
        return str(mirabest_candidates(CFG.ssl.mirabest_dir)[0])
    for candidate in mirabest_candidates():
        if (candidate / "test_batch").is_file():
            return str(candidate)
    return MIRABEST_CACHE


# Synthetic-source generators: the diffusion model and the trivial paste baseline.
DIFFUSION = f"{RESULTS}/diffusion"
GENERATORS = ("diffusion", "paste")


def quality_backbone():
    """The first SSL backbone of the config (features of the Frechet distance), or none."""
    pretrain = CFG.ssl.pretrain
    if not (pretrain.datasets and pretrain.methods):
        return []
    return [
        f"{RESULTS}/ssl/pretrain/{pretrain.datasets[0]}/{pretrain.methods[0]}/backbone.pt"
    ]


def all_targets():
    targets = [f"{RESULTS}/maps/{name}/rms.fits" for name in ALL_MAPS]
    targets += [f"{RESULTS}/sky/{name}/quicklook.png" for name in SIM_MAPS]
    targets += [f"{RESULTS}/figures/finders_{name}.png" for name in ALL_MAPS]
    targets.append(f"{SED}/synth/seds.fits")
    targets += [f"{SED}/cluster/metrics.md", f"{SED}/explain/explain.json"]
    if sed_catalogue() is not None:
        targets.append(f"{SED}/classify/classified.fits")
    if sed_validation_possible():
        targets.append(f"{SED}/validate/validation.md")
    if LABELLED_MAPS:
        targets.append(f"{RESULTS}/cutouts/dataset.json")
        targets.append(f"{RESULTS}/evaluation/comparison/comparison.md")
        if CFG.diffusion.enabled:
            targets.append(f"{RESULTS}/diffusion/quality/quality.md")
    targets += [f"{RESULTS}/ssl/benchmark/{task}/results.md" for task in CFG.ssl.tasks]
    if "sim6" in CFG.ssl.tasks:
        targets.append(f"{RESULTS}/ssl/explain/sim6/explain.json")
    return targets
