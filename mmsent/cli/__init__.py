"""`python -m mmsent`: one parser (`main`), one module per command group, shared arguments defined once.

- `main`: the one parser (every group's sub-commands) and running a command;
- `common`: the arguments several commands share; `arguments`: the argparse types (checked values);
- the command groups, one module each: `train` (`train`, `evaluate`), `predict`, `demo`, `data`
  (`make-data`, `make-calls`, `import-amazon`), `pretrain` (`pretrain-clip`, `-generator`, `-vlm`,
  `-audio`), `doctor`, `book`, `instructor` (`instructor-export`, `instructor-grade`); `run_config`:
  `train --config run.yaml`.

May import: errors, paths, choices, config, runtime, files, data, course, hub, models, train, analysis,
explain, audio, generation, vlm, apply, exercises.
"""
