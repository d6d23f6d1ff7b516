//! Which addresses a feed's redirect may lead to: a redirect from a public address to a
//! loopback, link-local, private, shared or multicast one is refused, so that a hostile feed
//! cannot make rasad request the metadata service (169.254.169.254) or an admin port on the
//! host or its network. A feed configured on such an address is the administrator's choice,
//! and the redirects it gives are followed.

use std::net::IpAddr;

use url::{Host, Url};

/// Whether `ip` is an address of the public internet (not loopback, private, link-local,
/// shared, multicast, unspecified, broadcast or unique local; an IPv4-mapped IPv6 address as
/// its IPv4 address).
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            !(v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_multicast()
                || v4.is_unspecified()
                || v4.is_broadcast()
                // Shared address space (carrier-grade NAT), 100.64.0.0/10.
                || (a == 100 && (64..128).contains(&b))
                // "This network", 0.0.0.0/8.
                || a == 0)
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public(IpAddr::V4(v4));
            }
            let first = v6.segments()[0];
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                // Unique local fc00::/7 and link-local fe80::/10.
                || (first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80)
        }
    }
}

/// The addresses `url`'s host stands for: itself for an IP literal, else what the resolver
/// says (nothing when it cannot say; the request then fails on its own).
pub async fn addresses(url: &Url) -> Vec<IpAddr> {
    let port = url.port_or_known_default().unwrap_or(80);
    match url.host() {
        Some(Host::Ipv4(v4)) => vec![IpAddr::V4(v4)],
        Some(Host::Ipv6(v6)) => vec![IpAddr::V6(v6)],
        Some(Host::Domain(name)) => tokio::net::lookup_host((name, port))
            .await
            .map(|found| found.map(|a| a.ip()).collect())
            .unwrap_or_default(),
        None => Vec::new(),
    }
}

/// The non-public address a redirect from addresses `from` to addresses `to` would reach, when
/// it must be refused: `from` all public (an unresolved source counts as public) and some
/// address of `to` not.
pub fn refused_hop(from: &[IpAddr], to: &[IpAddr]) -> Option<IpAddr> {
    if from.iter().any(|ip| !is_public(*ip)) {
        return None;
    }
    to.iter().copied().find(|ip| !is_public(*ip))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_addresses_named_cases() {
        let cases = [
            ("public_v4", "93.184.216.34", true),
            ("public_v6", "2606:2800:220:1:248:1893:25c8:1946", true),
            ("loopback_v4", "127.0.0.1", false),
            ("loopback_elsewhere_in_127", "127.1.2.3", false),
            ("loopback_v6", "::1", false),
            ("metadata_link_local", "169.254.169.254", false),
            ("private_10", "10.1.2.3", false),
            ("private_172", "172.20.0.1", false),
            ("private_192", "192.168.1.1", false),
            ("shared_cgnat", "100.100.0.1", false),
            ("multicast_v4", "224.0.0.1", false),
            ("unspecified_v4", "0.0.0.0", false),
            ("this_network", "0.1.2.3", false),
            ("broadcast", "255.255.255.255", false),
            ("unique_local_v6", "fd00::1", false),
            ("link_local_v6", "fe80::1", false),
            ("multicast_v6", "ff02::1", false),
            ("mapped_loopback", "::ffff:127.0.0.1", false),
            ("mapped_public", "::ffff:93.184.216.34", true),
        ];
        for (name, ip, public) in cases {
            let ip: IpAddr = ip.parse().expect("an address");
            assert_eq!(is_public(ip), public, "{name}");
        }
    }

    #[test]
    fn redirects_refused_named_cases() {
        let ip = |s: &str| -> IpAddr { s.parse().expect("an address") };
        let public = [ip("93.184.216.34")];
        let metadata = [ip("169.254.169.254")];
        let loopback = [ip("127.0.0.1")];
        type Case<'a> = (&'a str, &'a [IpAddr], &'a [IpAddr], Option<IpAddr>);
        let cases: [Case; 5] = [
            ("public_to_public", &public, &public, None),
            (
                "public_to_metadata",
                &public,
                &metadata,
                Some(ip("169.254.169.254")),
            ),
            (
                "public_to_loopback",
                &public,
                &loopback,
                Some(ip("127.0.0.1")),
            ),
            (
                "loopback_to_loopback_is_the_admins_choice",
                &loopback,
                &loopback,
                None,
            ),
            (
                "unresolved_source_to_loopback",
                &[],
                &loopback,
                Some(ip("127.0.0.1")),
            ),
        ];
        for (name, from, to, want) in cases {
            assert_eq!(refused_hop(from, to), want, "{name}");
        }
    }
}
