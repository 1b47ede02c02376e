//! `secretgate render`: one service's spec with every declared secret mapped, offline.

use super::deploy::{Rendering, prepare, select_services, show_findings};
use super::print;
use crate::cli::{Cli, RenderArgs};
use crate::deploy;
use crate::error::{Error, exit};
use crate::lint::{Project, lint};
use crate::render::RenderOptions;

/// Prints the rendered spec, or the lint errors that stop it (exit 1).
pub fn run(cli: &Cli, args: &RenderArgs, color: bool) -> Result<u8, Error> {
    let mut project = Project::load(&cli.manifest)?;
    let envs = [args.env.clone()];
    lint(&mut project, &envs)?;
    let services = select_services(&project, &args.env, std::slice::from_ref(&args.service))?;
    let findings = deploy::gate_findings(&project.diagnostics, &services);
    if deploy::blocks(&findings) {
        show_findings(cli, &project, &findings, color);
        noteln!("error: `{}` cannot be rendered until the errors above are fixed", args.service);
        return Ok(exit::FINDINGS);
    }
    let options = RenderOptions { image: args.image.clone(), ..RenderOptions::default() };
    let rendering = Rendering {
        env: &args.env,
        services: &services,
        options: &options,
        pins: None,
        findings: &[],
    };
    for prepared in prepare(&mut project, &rendering)? {
        let text = prepared.rendered.to_yaml().map_err(|e| Error::Usage {
            message: format!(
                "the rendered spec of `{}` cannot be written as YAML: {e}",
                args.service
            ),
            help: None,
        })?;
        print(&text);
    }
    Ok(exit::OK)
}
