# Stellar SED case: synthetic SEDs through real passbands.


rule fetch_ck04:
    output:
        CK04_CACHE,
    log:
        f"{RESULTS}/logs/fetch_ck04.log",
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
        seds=f"{RESULTS}/sed/synth/seds.fits",
        bands=f"{RESULTS}/sed/synth/bands.json",
        overview=report(
            f"{RESULTS}/sed/synth/seds_overview.png",
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
        settings=section_settings("sed"),
        seed=CFG.seed,
        out=subpath(output.seds, parent=True),
    shell:
        "skysift sed-synth --settings {params.settings} --seed {params.seed} "
        "--grid {input.grid} --out {params.out} --overwrite > {log} 2>&1"
