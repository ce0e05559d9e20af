import Crypto
import Foundation
import SwiftASN1
import X509

/// The PKI of one simulator run: a CA, the serving certificate for 127.0.0.1, and an admin client certificate.
struct SimulatorPKI: Sendable {
    let caPEM: String
    let serverCertificatePEM: String
    let serverKeyPEM: String
    let adminCertificatePEM: String
    let adminKeyPEM: String

    /// The admin identity, as kubeadm writes it into admin.conf.
    static let adminUser = "kubernetes-admin"
    static let adminGroup = "system:masters"

    static func generate() throws -> SimulatorPKI {
        do {
            let now = Date()
            let notBefore = now.addingTimeInterval(-3600)
            let notAfter = now.addingTimeInterval(365 * 86400)
            let caKey = P256.Signing.PrivateKey()
            let caName = try DistinguishedName { CommonName("kube-sim-ca") }
            let ca = try Certificate(
                version: .v3, serialNumber: Certificate.SerialNumber(),
                publicKey: .init(caKey.publicKey), notValidBefore: notBefore, notValidAfter: notAfter,
                issuer: caName, subject: caName, signatureAlgorithm: .ecdsaWithSHA256,
                extensions: try Certificate.Extensions {
                    Critical(BasicConstraints.isCertificateAuthority(maxPathLength: nil))
                    Critical(KeyUsage(digitalSignature: true, keyCertSign: true, cRLSign: true))
                },
                issuerPrivateKey: .init(caKey))

            let serverKey = P256.Signing.PrivateKey()
            let server = try Certificate(
                version: .v3, serialNumber: Certificate.SerialNumber(),
                publicKey: .init(serverKey.publicKey), notValidBefore: notBefore, notValidAfter: notAfter,
                issuer: caName, subject: try DistinguishedName { CommonName("kube-apiserver") },
                signatureAlgorithm: .ecdsaWithSHA256,
                extensions: try Certificate.Extensions {
                    Critical(BasicConstraints.notCertificateAuthority)
                    Critical(KeyUsage(digitalSignature: true, keyEncipherment: true))
                    try ExtendedKeyUsage([.serverAuth])
                    SubjectAlternativeNames([
                        .dnsName("localhost"), .dnsName("kubernetes"), .dnsName("kubernetes.default"),
                        .ipAddress(ASN1OctetString(contentBytes: [127, 0, 0, 1])),
                    ])
                },
                issuerPrivateKey: .init(caKey))

            let adminKey = P256.Signing.PrivateKey()
            let admin = try Certificate(
                version: .v3, serialNumber: Certificate.SerialNumber(),
                publicKey: .init(adminKey.publicKey), notValidBefore: notBefore, notValidAfter: notAfter,
                issuer: caName,
                subject: try DistinguishedName {
                    OrganizationName(adminGroup)
                    CommonName(adminUser)
                },
                signatureAlgorithm: .ecdsaWithSHA256,
                extensions: try Certificate.Extensions {
                    Critical(BasicConstraints.notCertificateAuthority)
                    Critical(KeyUsage(digitalSignature: true, keyEncipherment: true))
                    try ExtendedKeyUsage([.clientAuth])
                },
                issuerPrivateKey: .init(caKey))

            return SimulatorPKI(
                caPEM: try ca.serializeAsPEM().pemString + "\n",
                serverCertificatePEM: try server.serializeAsPEM().pemString + "\n",
                serverKeyPEM: serverKey.pemRepresentation + "\n",
                adminCertificatePEM: try admin.serializeAsPEM().pemString + "\n",
                adminKeyPEM: adminKey.pemRepresentation + "\n")
        } catch {
            throw KubeSimError.certificates("\(error)")
        }
    }
}

/// Who made a request, as the authenticator established it.
struct UserInfo: Sendable, Equatable {
    var name: String
    var groups: [String]

    static let anonymous = UserInfo(name: "system:anonymous", groups: ["system:unauthenticated"])

    /// Reads user and groups from a verified client certificate the way kube-apiserver does: CN and O.
    init(certificateDER: [UInt8]) throws {
        let certificate = try Certificate(derEncoded: certificateDER)
        var name = ""
        var groups: [String] = []
        for rdn in certificate.subject {
            for attribute in rdn {
                let text = String(describing: attribute.value)
                if attribute.type == .RDNAttributeType.commonName { name = text }
                if attribute.type == .RDNAttributeType.organizationName { groups.append(text) }
            }
        }
        self.init(name: name, groups: groups + ["system:authenticated"])
    }

    init(name: String, groups: [String]) {
        self.name = name
        self.groups = groups
    }
}
