"""Medley's AI workload on the job engine: documents -> fragments -> embeddings -> search,
and language-model calls (the optional extra `medley[ai]`).

    documents.py   read text, Markdown, HTML, PDF into the text fragments point into
    fragments.py   structure-aware, token-bounded, overlapping fragments with offsets
    embedding.py   the Embedder port; minilm.py (all-MiniLM-L6-v2 in numpy), hashing.py
                   (the fallback without the extra)
    batching.py    the reusable batching pattern: items per job, items per model call
    limits.py      inference slots (model concurrency) and the requests/tokens rate limiter
    llm.py         an OpenAI-compatible client whose answers become job control
    repository.py  documents, fragments, vectors; _sqlite/_postgres adapters, sql/*.sql
    runtime.py     what the jobs need in a worker process, configured once
    jobs.py        the jobs: extract_document, embed_fragments, finalize_document,
                   search, complete

Nothing here imports numpy, tokenizers or httpx at module level except `minilm.py`, so
the pipeline (with the hashed embedding) runs on a bare install.
"""

from __future__ import annotations
