"""The run folders a study's records name, one per line, for `make figures` to copy pictures from and probe.

    python scripts/study_runs.py tme3_depth 2_hidden_layers_of_256.seed0  # its log folder, logs/tme3_depth....
    python scripts/study_runs.py tme3_highway --checkpoint best.ckpt highway_50.seed0 highway_50.seed1

Neither ``version_0`` nor the newest folder is the right one to read: a variant whose options changed
ran again in a newer folder, and an older run's folder changes when an ``amal test`` of it writes there.
The study's record of each variant (``studies/<study>/variants/<slug>.json``) names its run. Without
slugs, every variant's, in the order of their slugs; ``--checkpoint FILE`` gives the file in each run's
checkpoint folder instead of its log folder.
"""

import argparse
import sys

from amal_lightning.studies.records import read_record
from amal_lightning.studies.spec import STUDY_DIR


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("study", help="the study's name (its folder in studies/)")
    parser.add_argument("slugs", nargs="*", help="variants by their folder names (code_80_tied.seed0); default: all")
    parser.add_argument("--checkpoint", metavar="FILE", help="the file in each run's checkpoint folder (best.ckpt)")
    args = parser.parse_intermixed_args(argv)
    folder = STUDY_DIR / args.study
    slugs = args.slugs or sorted(path.stem for path in (folder / "variants").glob("*.json"))
    for slug in slugs:
        record = read_record(folder, slug)
        if record is None or record.run is None:
            parser.exit(2, f"{sys.argv[0]}: {folder}/variants/{slug}.json: no run recorded (run the study first)\n")
        print(record.checkpoint_dir / args.checkpoint if args.checkpoint else record.log_dir)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
