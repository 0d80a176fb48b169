# Whole-map prediction: tiles sharded over MPI ranks, border merging, catalogues.


rule predict_map:
    input:
        map=f"{RESULTS}/maps/{{name}}/map.fits",
        model=f"{RESULTS}/detector/model.pt",
        dataset=f"{RESULTS}/cutouts/dataset.json",
    output:
        catalogue=f"{RESULTS}/predict/{{name}}/catalogue.fits",
        segmentation=f"{RESULTS}/predict/{{name}}/segmentation.fits",
        regions=f"{RESULTS}/predict/{{name}}/regions.reg",
        outlines=report(
            f"{RESULTS}/predict/{{name}}/outlines.png",
            caption="../report/predict_map.rst",
            category="Detection",
        ),
    log:
        f"{RESULTS}/logs/predict_map/{{name}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/predict_map/{{name}}.tsv"
    conda:
        SKYSIFT_ENV
    threads: 2
    resources:
        # MPI ranks; the launcher is mpiexec here and `srun --mpi=pmi2` in the Slurm profile.
        tasks=2,
        mpi="mpiexec",
        # a GPU for the job (the ranks share it) when predict.device is CUDA (config/paper.yaml)
        gpu=1 if CFG.predict.device.startswith("cuda") else 0,
    params:
        settings=section_settings("predict"),
        dataset=subpath(input.dataset, parent=True),
        out=subpath(output.catalogue, parent=True),
    shell:
        "{resources.mpi} -n {resources.tasks} skysift predict-map {input.map} "
        "--model {input.model} --dataset {params.dataset} --settings {params.settings} "
        "--out {params.out} --overwrite --no-progress > {log} 2>&1"


rule plot_finders:
    input:
        map=f"{RESULTS}/maps/{{name}}/map.fits",
        panels=finder_panel_inputs,
    output:
        report(
            f"{RESULTS}/figures/finders_{{name}}.png",
            caption="../report/finders.rst",
            category="Detection",
        ),
    log:
        f"{RESULTS}/logs/plot_finders/{{name}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/plot_finders/{{name}}.tsv"
    conda:
        SKYSIFT_ENV
    params:
        panels=finder_panel_flags,
        classes=shlex.join(CFG.classes),
    shell:
        "skysift plot-finders {input.map} {params.panels} --classes {params.classes} "
        "--out {output} > {log} 2>&1"
