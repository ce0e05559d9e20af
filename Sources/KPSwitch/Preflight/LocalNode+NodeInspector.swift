import NodeState

extension LocalNode: NodeInspector {}
