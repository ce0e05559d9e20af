import ProxyConfig

/// The proxy modes kpswitch migrates between; defined by ProxyConfig, which writes them.
public typealias ProxyMode = ProxyConfig.ProxyMode
