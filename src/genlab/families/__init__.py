"""Model families; importing this package registers every built-in model name."""

from genlab.families import (
    autoregressive,
    classical,
    cnf,
    consistency,
    ebm,
    edm,
    edm_frames,
    flow_matching,
    flows,
    gan,
    gpt,
    made,
    mdlm,
    ngram,
    score,
    table_ar,
    table_diffusion,
    vae,
)

__all__ = ["autoregressive", "classical", "cnf", "consistency", "ebm", "edm", "edm_frames", "flow_matching", "flows", "gan", "gpt",
           "made", "mdlm", "ngram", "score", "table_ar",
           "table_diffusion", "vae"]
