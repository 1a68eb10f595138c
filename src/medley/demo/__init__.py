"""`medley demo`: the bundled documents through the AI fragment pipeline on the embedded
store, as an application would run it:

    documents/*.md|txt|html --medley.ai.extract_document--> documents + fragments
                            --medley.ai.embed_fragments---> vectors (all-MiniLM-L6-v2,
                                                            or the hashed fallback)
                            --medley.ai.finalize_document-> ready (the batch callback)
    sample question         --demo.ask (flaky: fails once, retried)--> the top 3 fragments

Everything the live view and the summary show is read back from the job store and the
AI repository.
"""

from __future__ import annotations
