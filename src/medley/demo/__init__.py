"""`medley demo`: bundled documents through a real pipeline of jobs on the embedded store.

    documents/*.md|txt --demo.extract_fragments--> fragments (structure-aware, ~400 chars)
                       --demo.index_fragments----> term statistics + hashed vectors
    sample question    --demo.embed_question-----> query vector (flaky: fails once, retried)
    cosine similarity over the stored vectors   -> the top 3 fragments

Everything the live view and the summary show is read back from the job store.
"""

from __future__ import annotations
