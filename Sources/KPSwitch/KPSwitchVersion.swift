/// kpswitch's own version, written into snapshots and migration records.
public enum KPSwitchVersion {
    public static let current = "0.1.0"
}
