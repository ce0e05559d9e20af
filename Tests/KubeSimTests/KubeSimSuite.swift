import Testing

/// Every kube-sim suite, one at a time: each starts its own simulator, and the scale suite alone keeps both
/// cores busy, so running them side by side only makes the kubectl timeouts race the CPU.
@Suite("kube-sim", .serialized)
struct KubeSimSuite {}
