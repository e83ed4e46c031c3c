"""Wire codecs: KServe V1, Open Inference Protocol V2 (+ binary tensor extension), CloudEvents."""
