/// One idempotent step of a migration or of its rollback. Each is recorded in `kpswitch-state` before it
/// acts, so a run killed anywhere is resumed by running the recorded step again.
public enum MigrationStep: Codable, Hashable, Sendable {
    case acquireLock
    /// Record the original ConfigMap byte for byte, its resourceVersion, and the DaemonSet's update
    /// strategy and template.
    case backUp
    /// Create `<original>-kpswitch-<mode>`: the original text with the surgical edit.
    case createStagedConfig
    /// Update strategy OnDelete, config volume on the staged ConfigMap (and the cleanup init container).
    case pointDaemonSetAtStaged
    /// Delete the kube-proxy pods of these nodes so that the DaemonSet recreates them from the staged config.
    case replacePods(batch: Int, nodes: [String])
    /// Every listed node's new pod is Ready, not restarting, and logs the mode's start-up line.
    case verifyNodes(batch: Int, nodes: [String], mode: ProxyMode)
    /// Finalize, canary strategy: the same edit into the original ConfigMap (resourceVersion checked).
    case writeOriginalConfig
    /// Finalize, canary strategy: the original template (on the original ConfigMap, no cleanup init
    /// container) while the update strategy stays OnDelete, so kpswitch replaces the pods in its own batches.
    case pointDaemonSetAtOriginal
    /// Finalize: the original update strategy back; after `pointDaemonSetAtOriginal` and the final batches
    /// every pod is already on the template, so the DaemonSet controller has nothing left to roll.
    case restoreDaemonSet
    /// Rolling strategy: the edit in place, with the ConfigMap's resourceVersion (409 stops everything).
    case editConfigInPlace
    /// Rolling strategy, and rollback after one: restart as `kubectl rollout restart` does.
    case restartDaemonSet
    /// The DaemonSet's rollout completes and every node runs `mode`.
    case awaitRollout(mode: ProxyMode)
    case deleteStagedConfig
    /// `--cleanup node`, once every node runs the new mode: remove `mode`'s leftovers from every node through
    /// agent pods, keeping what the new mode uses (`NodeCleanups`).
    case cleanNodes(mode: ProxyMode)
    case releaseLock

    /// Rollback: put the original ConfigMap text back.
    case restoreOriginalConfig
    /// Rollback: put the original update strategy and template back.
    case restoreOriginalDaemonSet
}
