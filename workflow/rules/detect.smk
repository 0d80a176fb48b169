# Detector: train, predict on the test cutouts, evaluate; traditional finders scored the same way.


rule train_detector:
    input:
        dataset=f"{RESULTS}/cutouts/dataset.json",
        train=f"{RESULTS}/cutouts/annotations/train.json",
        val=f"{RESULTS}/cutouts/annotations/val.json",
    output:
        model=f"{RESULTS}/detector/model.pt",
        log_csv=f"{RESULTS}/detector/train_log.csv",
        summary=f"{RESULTS}/detector/train_summary.json",
        curves=report(
            f"{RESULTS}/detector/loss_curves.png",
            caption="../report/loss_curves.rst",
            category="Detection",
        ),
    log:
        f"{RESULTS}/logs/train_detector.log",
    benchmark:
        f"{RESULTS}/benchmarks/train_detector.tsv"
    conda:
        SKYSIFT_ENV
    threads: 2
    params:
        settings=section_settings("detect"),
        dataset=subpath(input.dataset, parent=True),
        out=subpath(output.model, parent=True),
    shell:
        "skysift train-detector --dataset {params.dataset} --out {params.out} "
        "--settings {params.settings} --threads {threads} > {log} 2>&1"


# Detections down to score 0.05 feed COCO mAP; completeness/reliability count the ones the model
# reports (each class from its own score threshold, calibrated on the validation split).
rule predict_cutouts:
    input:
        dataset=f"{RESULTS}/cutouts/dataset.json",
        model=f"{RESULTS}/detector/model.pt",
        split=f"{RESULTS}/cutouts/annotations/{{split}}.json",
    output:
        f"{RESULTS}/detector/predictions_{{split}}.json",
    log:
        f"{RESULTS}/logs/predict_cutouts/{{split}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/predict_cutouts/{{split}}.tsv"
    conda:
        SKYSIFT_ENV
    threads: 2
    params:
        dataset=subpath(input.dataset, parent=True),
    shell:
        "skysift predict-cutouts --model {input.model} --dataset {params.dataset} "
        "--split {wildcards.split} --out {output} --threads {threads} "
        "--candidates 0.05 > {log} 2>&1"


rule evaluate_detector:
    input:
        dataset=f"{RESULTS}/cutouts/dataset.json",
        predictions=f"{RESULTS}/detector/predictions_test.json",
        split=f"{RESULTS}/cutouts/annotations/test.json",
    output:
        metrics=f"{RESULTS}/evaluation/skysift/metrics.json",
        table=f"{RESULTS}/evaluation/skysift/per_class.md",
        vs_snr=report(
            f"{RESULTS}/evaluation/skysift/completeness_reliability_vs_snr.png",
            caption="../report/evaluation.rst",
            category="Detection",
        ),
        confusion=report(
            f"{RESULTS}/evaluation/skysift/confusion_matrix.png",
            caption="../report/evaluation.rst",
            category="Detection",
        ),
    log:
        f"{RESULTS}/logs/evaluate_detector.log",
    benchmark:
        f"{RESULTS}/benchmarks/evaluate_detector.tsv"
    conda:
        SKYSIFT_ENV
    params:
        settings=section_settings("evaluate"),
        dataset=subpath(input.dataset, parent=True),
        out=subpath(output.metrics, parent=True),
    shell:
        "skysift evaluate-detector --dataset {params.dataset} --split test "
        "--predictions {input.predictions} --settings {params.settings} "
        "--score-threshold 0 --out {params.out} --overwrite > {log} 2>&1"


rule run_baseline:
    input:
        f"{RESULTS}/maps/{{name}}/map.fits",
    output:
        catalogue=f"{RESULTS}/baselines/{{finder}}/{{name}}/catalogue.fits",
        segmentation=f"{RESULTS}/baselines/{{finder}}/{{name}}/segmentation.fits",
        runtime=f"{RESULTS}/baselines/{{finder}}/{{name}}/runtime.json",
    log:
        f"{RESULTS}/logs/run_baseline/{{finder}}/{{name}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/run_baseline/{{finder}}/{{name}}.tsv"
    wildcard_constraints:
        finder="|".join(BASELINES),
    conda:
        SKYSIFT_ENV
    params:
        settings=section_settings("baselines"),
        out=subpath(output.catalogue, parent=True),
    shell:
        "skysift run-baseline {wildcards.finder} {input} --settings {params.settings} "
        "--out {params.out} --overwrite > {log} 2>&1"


rule catalogue_to_coco:
    input:
        dataset=f"{RESULTS}/cutouts/dataset.json",
        catalogues=finder_outputs("catalogue"),
        segmentations=finder_outputs("segmentation"),
        split=f"{RESULTS}/cutouts/annotations/test.json",
    output:
        f"{RESULTS}/map_catalogues/{{finder}}_test.json",
    log:
        f"{RESULTS}/logs/catalogue_to_coco/{{finder}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/catalogue_to_coco/{{finder}}.tsv"
    conda:
        SKYSIFT_ENV
    params:
        dataset=subpath(input.dataset, parent=True),
        entries=finder_map_entries,
        score=lambda wildcards: FINDER_SCORE_COLUMNS[wildcards.finder],
    shell:
        "skysift catalogue-to-coco --dataset {params.dataset} --split test {params.entries} "
        "--score-column {params.score} --out {output} --overwrite > {log} 2>&1"


# A catalogue is already cut by its finder (skysift's whole-map one by the model's thresholds):
# every entry counts (--score-threshold 0; the baselines' rank scores are >= 0.5 anyway).
rule evaluate_catalogue:
    input:
        dataset=f"{RESULTS}/cutouts/dataset.json",
        predictions=f"{RESULTS}/map_catalogues/{{finder}}_test.json",
        split=f"{RESULTS}/cutouts/annotations/test.json",
    output:
        metrics=f"{RESULTS}/evaluation/{{finder}}_{{match}}/metrics.json",
    log:
        f"{RESULTS}/logs/evaluate_catalogue/{{finder}}_{{match}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/evaluate_catalogue/{{finder}}_{{match}}.tsv"
    conda:
        SKYSIFT_ENV
    params:
        settings=section_settings("evaluate"),
        dataset=subpath(input.dataset, parent=True),
        out=subpath(output.metrics, parent=True),
    shell:
        "skysift evaluate-detector --dataset {params.dataset} --split test "
        "--predictions {input.predictions} --settings {params.settings} --match {wildcards.match} "
        "--score-threshold 0 --out {params.out} --overwrite > {log} 2>&1"


rule compare_finders:
    input:
        skysift=f"{RESULTS}/evaluation/skysift/metrics.json",
        skysift_time=f"{RESULTS}/benchmarks/predict_cutouts/test.tsv",
        catalogues=[
            f"{RESULTS}/evaluation/{finder}_{match}/metrics.json"
            for finder, match in CATALOGUE_EVALUATIONS
        ],
        runtimes=expand(
            f"{RESULTS}/baselines/{{finder}}/{{name}}/runtime.json",
            finder=BASELINES,
            name=LABELLED_MAPS,
        ),
        map_times=expand(
            f"{RESULTS}/benchmarks/predict_map/{{name}}.tsv",
            name=LABELLED_MAPS,
        ),
    output:
        table=report(
            f"{RESULTS}/evaluation/comparison/comparison.md",
            caption="../report/comparison.rst",
            category="Detection",
        ),
        csv=f"{RESULTS}/evaluation/comparison/comparison.csv",
        figure=report(
            f"{RESULTS}/evaluation/comparison/comparison.png",
            caption="../report/comparison.rst",
            category="Detection",
        ),
    log:
        f"{RESULTS}/logs/compare_finders.log",
    benchmark:
        f"{RESULTS}/benchmarks/compare_finders.tsv"
    conda:
        SKYSIFT_ENV
    params:
        entries=comparison_entries,
        out=subpath(output.csv, parent=True),
    shell:
        "skysift compare-finders {params.entries} --out {params.out} --overwrite > {log} 2>&1"
