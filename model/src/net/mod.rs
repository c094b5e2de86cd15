//! The network: links with impairments between hosts, and datagram delivery to sockets.

pub mod link;
