# Maps -> annotated training sets.


rule simulate_sky:
    output:
        map=f"{RESULTS}/sky/{{name}}/map.fits",
        segmentation=f"{RESULTS}/sky/{{name}}/segmentation.fits",
        truth=f"{RESULTS}/sky/{{name}}/truth.fits",
        rms=f"{RESULTS}/sky/{{name}}/rms.fits",
        quicklook=report(
            f"{RESULTS}/sky/{{name}}/quicklook.png",
            caption="../report/quicklook.rst",
            category="Data",
        ),
    log:
        f"{RESULTS}/logs/simulate_sky/{{name}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/simulate_sky/{{name}}.tsv"
    conda:
        SKYSIFT_ENV
    params:
        settings=section_settings("simulate"),
        seed=map_seed,
        out=subpath(output.map, parent=True),
    shell:
        "skysift simulate-sky --settings {params.settings} --seed {params.seed} "
        "--name {wildcards.name} --out {params.out} --overwrite > {log} 2>&1"


rule ingest_map:
    input:
        raw_map,
    output:
        map=f"{RESULTS}/maps/{{name}}/map.fits",
        background=f"{RESULTS}/maps/{{name}}/background.fits",
        rms=f"{RESULTS}/maps/{{name}}/rms.fits",
    log:
        f"{RESULTS}/logs/ingest_map/{{name}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/ingest_map/{{name}}.tsv"
    conda:
        SKYSIFT_ENV
    params:
        settings=section_settings("ingest"),
        options=ingest_options,
        out=subpath(output.map, parent=True),
    shell:
        "skysift ingest-map {input} --name {wildcards.name} {params.options} "
        "--settings {params.settings} --out {params.out} --overwrite > {log} 2>&1"


rule import_annotations:
    input:
        map=f"{RESULTS}/maps/{{name}}/map.fits",
        annotations=annotation_source,
    output:
        truth=f"{RESULTS}/annotations/{{name}}/truth.fits",
        segmentation=f"{RESULTS}/annotations/{{name}}/segmentation.fits",
    log:
        f"{RESULTS}/logs/import_annotations/{{name}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/import_annotations/{{name}}.tsv"
    conda:
        SKYSIFT_ENV
    params:
        flag=annotation_flag,
        settings=section_settings("ingest"),
        out=subpath(output.truth, parent=True),
    shell:
        "skysift import-annotations --map {input.map} {params.flag} {input.annotations} "
        "--settings {params.settings} --out {params.out} --overwrite > {log} 2>&1"


rule build_cutouts:
    input:
        maps=cutout_inputs("map"),
        segmentations=cutout_inputs("segmentation"),
        truths=cutout_inputs("truth"),
    output:
        dataset=f"{RESULTS}/cutouts/dataset.json",
        train=f"{RESULTS}/cutouts/annotations/train.json",
        val=f"{RESULTS}/cutouts/annotations/val.json",
        test=f"{RESULTS}/cutouts/annotations/test.json",
        balance=report(
            f"{RESULTS}/cutouts/class_balance.png",
            caption="../report/class_balance.rst",
            category="Data",
        ),
    log:
        f"{RESULTS}/logs/build_cutouts.log",
    benchmark:
        f"{RESULTS}/benchmarks/build_cutouts.tsv"
    conda:
        SKYSIFT_ENV
    params:
        settings=section_settings("cutouts"),
        classes=" ".join(CFG.classes),
        seed=CFG.seed,
        maps=lambda wc, input: repeated_flag("--map", input.maps),
        segmentations=lambda wc, input: repeated_flag(
            "--segmentation", input.segmentations
        ),
        truths=lambda wc, input: repeated_flag("--truth", input.truths),
        out=subpath(output.dataset, parent=True),
    shell:
        "skysift build-cutouts {params.maps} {params.segmentations} {params.truths} "
        "--classes {params.classes} --settings {params.settings} --seed {params.seed} "
        "--out {params.out} --overwrite > {log} 2>&1"
