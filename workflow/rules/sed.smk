# Stellar SED case: synthetic SEDs through real passbands, embeddings, clusters, attributions,
# and real catalogues classified into the clusters.


rule fetch_ck04:
    output:
        CK04_CACHE,
    log:
        f"{RESULTS}/logs/fetch_ck04.log",
    benchmark:
        f"{RESULTS}/benchmarks/fetch_ck04.tsv"
    conda:
        SKYSIFT_ENV
    params:
        settings=section_settings("fetch"),
    shell:
        "skysift fetch-data ck04 --settings {params.settings} > {log} 2>&1"


rule sed_synth:
    input:
        grid=sed_grid(),
    output:
        seds=f"{SED}/synth/seds.fits",
        bands=f"{SED}/synth/bands.json",
        overview=report(
            f"{SED}/synth/seds_overview.png",
            caption="../report/sed_overview.rst",
            category="Stellar SEDs",
        ),
    log:
        f"{RESULTS}/logs/sed_synth.log",
    benchmark:
        f"{RESULTS}/benchmarks/sed_synth.tsv"
    conda:
        SKYSIFT_ENV
    params:
        settings=section_settings("sed", exclude=SED_ANALYSIS_SECTIONS),
        seed=CFG.seed,
        out=subpath(output.seds, parent=True),
    shell:
        "skysift sed-synth --settings {params.settings} --seed {params.seed} "
        "--grid {input.grid} --out {params.out} --overwrite > {log} 2>&1"


rule sed_embed:
    input:
        seds=f"{SED}/synth/seds.fits",
        bands=f"{SED}/synth/bands.json",
    output:
        spec=f"{SED}/embed/feature_spec.json",
        embedding=f"{SED}/embed/embedding.fits",
        loss=report(
            f"{SED}/embed/loss_curve.png",
            caption="../report/sed_loss_curve.rst",
            category="Stellar SEDs",
        ),
    log:
        f"{RESULTS}/logs/sed_embed.log",
    benchmark:
        f"{RESULTS}/benchmarks/sed_embed.tsv"
    conda:
        SKYSIFT_ENV
    params:
        settings=section_settings("sed.embed"),
        seed=CFG.seed,
        out=subpath(output.spec, parent=True),
    shell:
        "skysift sed-embed --seds {input.seds} --bands {input.bands} "
        "--settings {params.settings} --seed {params.seed} --out {params.out} "
        "--overwrite > {log} 2>&1"


rule sed_cluster:
    input:
        seds=f"{SED}/synth/seds.fits",
        embedding=f"{SED}/embed/embedding.fits",
    output:
        metrics=f"{SED}/cluster/metrics.md",
        clusterers=f"{SED}/cluster/clusterers.pkl",
        embeddings=report(
            f"{SED}/cluster/embeddings.png",
            caption="../report/sed_embeddings.rst",
            category="Stellar SEDs",
        ),
        params=report(
            f"{SED}/cluster/cluster_params.png",
            caption="../report/sed_cluster_params.rst",
            category="Stellar SEDs",
        ),
    log:
        f"{RESULTS}/logs/sed_cluster.log",
    benchmark:
        f"{RESULTS}/benchmarks/sed_cluster.tsv"
    conda:
        SKYSIFT_ENV
    params:
        settings=section_settings("sed.cluster"),
        seed=CFG.seed,
        out=subpath(output.metrics, parent=True),
    shell:
        "skysift sed-cluster --seds {input.seds} --embedding {input.embedding} "
        "--settings {params.settings} --seed {params.seed} --out {params.out} "
        "--overwrite > {log} 2>&1"


rule sed_explain:
    input:
        seds=f"{SED}/synth/seds.fits",
        spec=f"{SED}/embed/feature_spec.json",
        metrics=f"{SED}/cluster/metrics.md",
    output:
        summary=f"{SED}/explain/explain.json",
        heatmap=report(
            f"{SED}/explain/attribution_heatmap.png",
            caption="../report/sed_attributions.rst",
            category="Stellar SEDs",
        ),
    log:
        f"{RESULTS}/logs/sed_explain.log",
    benchmark:
        f"{RESULTS}/benchmarks/sed_explain.tsv"
    conda:
        SKYSIFT_ENV
    params:
        settings=section_settings("sed.explain"),
        seed=CFG.seed,
        embedding=subpath(input.spec, parent=True),
        clusters=subpath(input.metrics, parent=True),
        out=subpath(output.summary, parent=True),
    shell:
        "skysift sed-explain --seds {input.seds} --embedding {params.embedding} "
        "--clusters {params.clusters} --settings {params.settings} --seed {params.seed} "
        "--out {params.out} --overwrite > {log} 2>&1"


rule sed_classify:
    input:
        catalogue=sed_catalogue() or [],
        seds=f"{SED}/synth/seds.fits",
        spec=f"{SED}/embed/feature_spec.json",
        clusterers=f"{SED}/cluster/clusterers.pkl",
    output:
        classified=f"{SED}/classify/classified.fits",
    log:
        f"{RESULTS}/logs/sed_classify.log",
    benchmark:
        f"{RESULTS}/benchmarks/sed_classify.tsv"
    conda:
        SKYSIFT_ENV
    params:
        settings=section_settings("sed.catalogue"),
        embedding=subpath(input.spec, parent=True),
        clusters=subpath(input.clusterers, parent=True),
        out=subpath(output.classified, parent=True),
    shell:
        "skysift sed-classify --catalogue {input.catalogue} --embedding {params.embedding} "
        "--clusters {params.clusters} --seds {input.seds} --settings {params.settings} "
        "--out {params.out} --overwrite > {log} 2>&1"


rule sed_validate:
    input:
        classified=f"{SED}/classify/classified.fits",
        seds=f"{SED}/synth/seds.fits",
    output:
        table=f"{SED}/validate/validation.md",
        teff=report(
            f"{SED}/validate/teff_real.png",
            caption="../report/sed_teff_real.rst",
            category="Stellar SEDs",
        ),
        colours=report(
            f"{SED}/validate/compare_real.png",
            caption="../report/sed_compare_real.rst",
            category="Stellar SEDs",
        ),
    log:
        f"{RESULTS}/logs/sed_validate.log",
    benchmark:
        f"{RESULTS}/benchmarks/sed_validate.tsv"
    conda:
        SKYSIFT_ENV
    params:
        settings=section_settings("sed.validation"),
        out=subpath(output.table, parent=True),
    shell:
        "skysift sed-validate --classified {input.classified} --seds {input.seds} "
        "--settings {params.settings} --out {params.out} --overwrite > {log} 2>&1"
