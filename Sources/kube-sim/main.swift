// kube-sim: see issue 8.
print("kube-sim is not implemented yet")
