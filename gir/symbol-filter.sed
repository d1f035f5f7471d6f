s/^/qcgir_/
