# SSL benchmark: labelled and unlabelled sets, pretraining, downstream benchmark per task.


rule simulate_ssl_sky:
    output:
        map=f"{RESULTS}/ssl/sky/{{ssl_map}}/map.fits",
        segmentation=f"{RESULTS}/ssl/sky/{{ssl_map}}/segmentation.fits",
        truth=f"{RESULTS}/ssl/sky/{{ssl_map}}/truth.fits",
    log:
        f"{RESULTS}/logs/simulate_ssl_sky/{{ssl_map}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/simulate_ssl_sky/{{ssl_map}}.tsv"
    conda:
        SKYSIFT_ENV
    params:
        settings=ssl_sky_settings(),
        seed=ssl_map_seed,
        out=subpath(output.map, parent=True),
    shell:
        "skysift simulate-sky --settings {params.settings} --seed {params.seed} "
        "--name {wildcards.ssl_map} --out {params.out} --overwrite > {log} 2>&1"


rule ssl_dataset_labelled:
    input:
        maps=expand(f"{RESULTS}/ssl/sky/{{m}}/map.fits", m=SSL_MAPS),
        segmentations=expand(f"{RESULTS}/ssl/sky/{{m}}/segmentation.fits", m=SSL_MAPS),
        truths=expand(f"{RESULTS}/ssl/sky/{{m}}/truth.fits", m=SSL_MAPS),
    output:
        f"{RESULTS}/ssl/data/sim6/cutouts.npz",
    log:
        f"{RESULTS}/logs/ssl_dataset/sim6.log",
    benchmark:
        f"{RESULTS}/benchmarks/ssl_dataset/sim6.tsv"
    conda:
        SKYSIFT_ENV
    params:
        settings=section_settings("ssl"),
        sky=ssl_sky_flags,
        out=subpath(output[0], parent=True),
    shell:
        "skysift ssl-dataset labelled {params.sky} --settings {params.settings} "
        "--out {params.out} --overwrite > {log} 2>&1"


rule ssl_dataset_random:
    input:
        maps=expand(f"{RESULTS}/maps/{{name}}/map.fits", name=ALL_MAPS),
    output:
        f"{RESULTS}/ssl/data/random/cutouts.npz",
    log:
        f"{RESULTS}/logs/ssl_dataset/random.log",
    benchmark:
        f"{RESULTS}/benchmarks/ssl_dataset/random.tsv"
    conda:
        SKYSIFT_ENV
    params:
        settings=section_settings("ssl"),
        maps=lambda wc, input: repeated_flag("--map", input.maps),
        out=subpath(output[0], parent=True),
    shell:
        "skysift ssl-dataset random {params.maps} --settings {params.settings} "
        "--out {params.out} --overwrite > {log} 2>&1"


rule ssl_dataset_curated:
    input:
        maps=expand(f"{RESULTS}/maps/{{name}}/map.fits", name=ALL_MAPS),
        catalogues=[curated_catalogue(name) for name in ALL_MAPS],
    output:
        f"{RESULTS}/ssl/data/curated/cutouts.npz",
    log:
        f"{RESULTS}/logs/ssl_dataset/curated.log",
    benchmark:
        f"{RESULTS}/benchmarks/ssl_dataset/curated.tsv"
    conda:
        SKYSIFT_ENV
    params:
        settings=section_settings("ssl"),
        pairs=curated_pairs,
        out=subpath(output[0], parent=True),
    shell:
        "skysift ssl-dataset curated {params.pairs} --settings {params.settings} "
        "--out {params.out} --overwrite > {log} 2>&1"


rule fetch_mirabest:
    output:
        f"{MIRABEST_CACHE}/test_batch",
    log:
        f"{RESULTS}/logs/fetch_mirabest.log",
    benchmark:
        f"{RESULTS}/benchmarks/fetch_mirabest.tsv"
    conda:
        SKYSIFT_ENV
    params:
        settings=section_settings("fetch"),
    shell:
        "skysift fetch-data mirabest --settings {params.settings} > {log} 2>&1"


rule ssl_dataset_mirabest:
    input:
        f"{mirabest_dir()}/test_batch",
    output:
        f"{RESULTS}/ssl/data/mirabest/cutouts.npz",
    log:
        f"{RESULTS}/logs/ssl_dataset/mirabest.log",
    benchmark:
        f"{RESULTS}/benchmarks/ssl_dataset/mirabest.tsv"
    conda:
        SKYSIFT_ENV
    params:
        settings=section_settings("ssl"),
        folder=subpath(input[0], parent=True),
        out=subpath(output[0], parent=True),
    shell:
        "skysift ssl-dataset mirabest --mirabest {params.folder} "
        "--settings {params.settings} --out {params.out} --overwrite > {log} 2>&1"


rule ssl_pretrain:
    input:
        f"{RESULTS}/ssl/data/{{ssl_data}}/cutouts.npz",
    output:
        backbone=f"{RESULTS}/ssl/pretrain/{{ssl_data}}/{{ssl_method}}/backbone.pt",
        summary=f"{RESULTS}/ssl/pretrain/{{ssl_data}}/{{ssl_method}}/summary.json",
        curve=report(
            f"{RESULTS}/ssl/pretrain/{{ssl_data}}/{{ssl_method}}/loss_curve.png",
            caption="../report/ssl_pretrain.rst",
            category="SSL benchmark",
        ),
    log:
        f"{RESULTS}/logs/ssl_pretrain/{{ssl_data}}_{{ssl_method}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/ssl_pretrain/{{ssl_data}}_{{ssl_method}}.tsv"
    conda:
        SKYSIFT_ENV
    threads: 2
    params:
        settings=section_settings("ssl"),
        dataset=subpath(input[0], parent=True),
        out=subpath(output.backbone, parent=True),
    shell:
        "skysift ssl-pretrain --dataset {params.dataset} --method {wildcards.ssl_method} "
        "--settings {params.settings} --out {params.out} --threads {threads} > {log} 2>&1"


rule ssl_benchmark:
    input:
        dataset=f"{RESULTS}/ssl/data/{{task}}/cutouts.npz",
        backbones=ssl_backbones(),
    output:
        table=f"{RESULTS}/ssl/benchmark/{{task}}/results.md",
        results=f"{RESULTS}/ssl/benchmark/{{task}}/results.csv",
        classifier=f"{RESULTS}/ssl/benchmark/{{task}}/classifier.pt",
        accuracy=report(
            f"{RESULTS}/ssl/benchmark/{{task}}/accuracy_vs_fraction.png",
            caption="../report/ssl_accuracy.rst",
            category="SSL benchmark",
        ),
        confusion=report(
            f"{RESULTS}/ssl/benchmark/{{task}}/confusion.png",
            caption="../report/ssl_confusion.rst",
            category="SSL benchmark",
        ),
        umap=report(
            f"{RESULTS}/ssl/benchmark/{{task}}/umap.png",
            caption="../report/ssl_umap.rst",
            category="SSL benchmark",
        ),
    log:
        f"{RESULTS}/logs/ssl_benchmark/{{task}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/ssl_benchmark/{{task}}.tsv"
    conda:
        SKYSIFT_ENV
    threads: 2
    params:
        settings=section_settings("ssl"),
        backbones=ssl_backbone_flags,
        dataset=subpath(input.dataset, parent=True),
        out=subpath(output.table, parent=True),
    shell:
        "skysift ssl-benchmark --task {wildcards.task} --dataset {params.dataset} "
        "{params.backbones} --settings {params.settings} --out {params.out} "
        "--threads {threads} > {log} 2>&1"


rule ssl_explain:
    input:
        model=f"{RESULTS}/ssl/benchmark/sim6/classifier.pt",
        dataset=f"{RESULTS}/ssl/data/sim6/cutouts.npz",
    output:
        summary=f"{RESULTS}/ssl/explain/sim6/explain.json",
        figure=report(
            f"{RESULTS}/ssl/explain/sim6/explain.png",
            caption="../report/ssl_explain.rst",
            category="SSL benchmark",
        ),
    log:
        f"{RESULTS}/logs/ssl_explain/sim6.log",
    benchmark:
        f"{RESULTS}/benchmarks/ssl_explain/sim6.tsv"
    conda:
        SKYSIFT_ENV
    threads: 2
    params:
        settings=section_settings("ssl"),
        dataset=subpath(input.dataset, parent=True),
        out=subpath(output.summary, parent=True),
    shell:
        "skysift ssl-explain --model {input.model} --dataset {params.dataset} "
        "--settings {params.settings} --out {params.out} --threads {threads} > {log} 2>&1"
