//! The stand-in collector.
