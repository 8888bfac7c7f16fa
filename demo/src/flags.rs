//! The services' sampling and trace header flags, taken over by the demo as they are.
//!
//! `SAMPLE_RATE`, `B3_FORMAT` and `PROPAGATION` mean the same for the demo as for service1
//! and service2, so [`TracingFlags`] does not define them again: it copies their
//! definitions (flag, variable, parser, help) from the services' own
//! [`TracingArgs`](plumbing::TracingArgs), and a bad value stops the demo with the
//! services' message naming the setting.

use clap::{ArgMatches, Args, Command, FromArgMatches};
use plumbing::TracingArgs;
use zipkin_tracing::{B3Format, ProbabilitySampler, Propagation};

/// The ids (field names) of the services' flags that the demo reads too.
const SHARED: [&str; 3] = ["sample_rate", "b3_format", "propagation"];

/// `--sample-rate`/`SAMPLE_RATE`, `--b3-format`/`B3_FORMAT` and
/// `--propagation`/`PROPAGATION`, as the services read them.
#[derive(Debug, Clone, PartialEq)]
pub struct TracingFlags {
    /// Fraction of new traces to record, from 0.0 to 1.0.
    pub sample_rate: ProbabilitySampler,
    /// B3 header form on outgoing calls.
    pub b3_format: B3Format,
    /// Trace headers read on requests and written on calls.
    pub propagation: Propagation,
}

impl Default for TracingFlags {
    /// The services' defaults: every trace sampled, multi-header B3.
    fn default() -> Self {
        let defaults = TracingArgs::default();
        TracingFlags {
            sample_rate: defaults.sample_rate,
            b3_format: defaults.b3_format,
            propagation: defaults.propagation,
        }
    }
}

impl TracingFlags {
    /// `tracing` with these three settings.
    pub fn apply(&self, tracing: TracingArgs) -> TracingArgs {
        TracingArgs {
            sample_rate: self.sample_rate,
            b3_format: self.b3_format,
            propagation: self.propagation,
            ..tracing
        }
    }
}

impl Args for TracingFlags {
    fn augment_args(command: Command) -> Command {
        let services = TracingArgs::augment_args(Command::new("service"));
        services
            .get_arguments()
            .filter(|arg| SHARED.contains(&arg.get_id().as_str()))
            .cloned()
            .fold(command, Command::arg)
    }

    fn augment_args_for_update(command: Command) -> Command {
        Self::augment_args(command)
    }
}

impl FromArgMatches for TracingFlags {
    fn from_arg_matches(matches: &ArgMatches) -> Result<Self, clap::Error> {
        Ok(TracingFlags {
            sample_rate: value(matches, SHARED[0])?,
            b3_format: value(matches, SHARED[1])?,
            propagation: value(matches, SHARED[2])?,
        })
    }

    fn update_from_arg_matches(&mut self, matches: &ArgMatches) -> Result<(), clap::Error> {
        *self = Self::from_arg_matches(matches)?;
        Ok(())
    }
}

/// The value of the argument `id`, which has a default, so it is always there.
fn value<T: Clone + Send + Sync + 'static>(
    matches: &ArgMatches,
    id: &str,
) -> Result<T, clap::Error> {
    matches
        .try_get_one::<T>(id)
        .map_err(|error| {
            clap::Error::raw(
                clap::error::ErrorKind::ArgumentConflict,
                format!("{id}: {error}"),
            )
        })?
        .cloned()
        .ok_or_else(|| {
            clap::Error::raw(
                clap::error::ErrorKind::MissingRequiredArgument,
                format!("{id} has no value"),
            )
        })
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Debug, Parser)]
    struct Demo {
        #[command(flatten)]
        tracing: TracingFlags,
    }

    #[derive(Debug, Parser)]
    struct Service {
        #[command(flatten)]
        tracing: TracingArgs,
    }

    #[test]
    fn the_defaults_are_the_services_defaults() {
        let demo = Demo::try_parse_from(["demo"]).unwrap();
        assert_eq!(demo.tracing, TracingFlags::default());
        let service = Service::try_parse_from(["service"]).unwrap();
        assert_eq!(demo.tracing.apply(service.tracing.clone()), service.tracing);
    }

    #[test]
    fn each_flag_is_read_as_the_services_read_it() {
        let flags = [
            "--sample-rate=0.25",
            "--b3-format=single",
            "--propagation=w3c,b3",
        ];
        let demo = Demo::try_parse_from(std::iter::once("demo").chain(flags)).unwrap();
        let service = Service::try_parse_from(std::iter::once("service").chain(flags)).unwrap();
        assert_eq!(demo.tracing.sample_rate.rate(), 0.25);
        assert_eq!(demo.tracing.b3_format, B3Format::Single);
        assert_eq!(demo.tracing.apply(service.tracing.clone()), service.tracing);
        let command = <Demo as clap::CommandFactory>::command();
        let variables: Vec<_> = command
            .get_arguments()
            .filter_map(|arg| arg.get_env())
            .collect();
        assert_eq!(variables, ["SAMPLE_RATE", "B3_FORMAT", "PROPAGATION"]);
    }

    #[test]
    fn a_bad_value_names_the_setting() {
        for (flag, value) in [
            ("--sample-rate", "5"),
            ("--sample-rate", "all"),
            ("--b3-format", "both"),
            ("--propagation", "tracecontext"),
        ] {
            let argument = format!("{flag}={value}");
            let error = Demo::try_parse_from(["demo", &argument]).unwrap_err();
            let message = error.to_string();
            assert!(message.contains(flag), "{argument}: {message}");
        }
    }
}
