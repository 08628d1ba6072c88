#!/bin/bash
# Submits the shard array, then the merge step, which starts only when every array task succeeded.
set -euo pipefail
mkdir -p logs
array=$(sbatch --parsable docs/cluster/slurm-stress.sbatch)
sbatch --dependency=afterok:"$array" --job-name=ringfence-merge --cpus-per-task=1 --mem=2G \
    --output=logs/merge-%j.out --wrap "ringfence merge out/parts --out out/final"
echo "array $array submitted; merge queued after it"
