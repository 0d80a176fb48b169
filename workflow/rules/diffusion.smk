# Diffusion: synthetic annotated sources for the rare classes, beside the trivial paste baseline.


rule train_diffusion:
    input:
        dataset=f"{RESULTS}/cutouts/dataset.json",
        train=f"{RESULTS}/cutouts/annotations/train.json",
    output:
        model=f"{DIFFUSION}/model/model.pt",
        log_csv=f"{DIFFUSION}/model/train_log.csv",
        summary=f"{DIFFUSION}/model/train_summary.json",
        curve=report(
            f"{DIFFUSION}/model/loss_curve.png",
            caption="../report/diffusion_loss.rst",
            category="Synthetic sources",
        ),
    log:
        f"{RESULTS}/logs/train_diffusion.log",
    benchmark:
        f"{RESULTS}/benchmarks/train_diffusion.tsv"
    conda:
        SKYSIFT_ENV
    threads: 2
    params:
        settings=section_settings("diffusion.train"),
        dataset=subpath(input.dataset, parent=True),
        out=subpath(output.model, parent=True),
    shell:
        "skysift train-diffusion --dataset {params.dataset} --out {params.out} "
        "--settings {params.settings} --threads {threads} > {log} 2>&1"


rule sample_diffusion:
    input:
        dataset=f"{RESULTS}/cutouts/dataset.json",
        train=f"{RESULTS}/cutouts/annotations/train.json",
        model=lambda w: (
            [rules.train_diffusion.output.model] if w.generator == "diffusion" else []
        ),
    output:
        dataset=f"{DIFFUSION}/synthetic/{{generator}}/dataset.json",
        samples=report(
            f"{DIFFUSION}/synthetic/{{generator}}/samples.png",
            caption="../report/diffusion_samples.rst",
            category="Synthetic sources",
            subcategory="{generator}",
        ),
    log:
        f"{RESULTS}/logs/sample_diffusion/{{generator}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/sample_diffusion/{{generator}}.tsv"
    wildcard_constraints:
        generator="|".join(GENERATORS),
    conda:
        SKYSIFT_ENV
    threads: 2
    params:
        settings=section_settings("diffusion.sample"),
        simulate=section_settings("simulate"),
        dataset=subpath(input.dataset, parent=True),
        out=subpath(output.dataset, parent=True),
        model=lambda w, input: (
            f"--model {input.model}" if w.generator == "diffusion" else ""
        ),
    shell:
        "skysift sample-diffusion --dataset {params.dataset} --generator {wildcards.generator} "
        "{params.model} --out {params.out} --overwrite --settings {params.settings} "
        "--simulate-settings {params.simulate} --threads {threads} > {log} 2>&1"


rule diffusion_quality:
    input:
        dataset=f"{RESULTS}/cutouts/dataset.json",
        synthetic=expand(
            f"{DIFFUSION}/synthetic/{{generator}}/dataset.json", generator=GENERATORS
        ),
        backbone=quality_backbone(),
    output:
        table=report(
            f"{DIFFUSION}/quality/quality.md",
            caption="../report/diffusion_quality.rst",
            category="Synthetic sources",
        ),
        rows=f"{DIFFUSION}/quality/quality.json",
    log:
        f"{RESULTS}/logs/diffusion_quality.log",
    benchmark:
        f"{RESULTS}/benchmarks/diffusion_quality.tsv"
    conda:
        SKYSIFT_ENV
    params:
        dataset=subpath(input.dataset, parent=True),
        synthetic=lambda w, input: " ".join(os.path.dirname(p) for p in input.synthetic),
        backbone=lambda w, input: (
            f"--backbone {input.backbone}" if input.backbone else ""
        ),
        out=subpath(output.table, parent=True),
        settings=section_settings("diffusion.quality"),
        finder=section_settings("baselines.pybdsf"),
    shell:
        "skysift diffusion-quality --dataset {params.dataset} --synthetic {params.synthetic} "
        "{params.backbone} --settings {params.settings} --finder-settings {params.finder} "
        "--out {params.out} > {log} 2>&1"
