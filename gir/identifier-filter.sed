s/^(_?)([^G_]|G[a-z])/\1Qcontext\2/
