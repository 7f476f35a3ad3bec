// minisyncctl: controls a running minisyncd over its Unix socket. This file only parses the command line;
// command_runner.cc does the rest.
#include "command_runner.h"

#include <CLI/CLI.hpp>

#include <iostream>

int main(int argc, char** argv)
{
    using minisync::control::Command;
    minisync::ctl::CtlOptions options;

    CLI::App app{"minisyncctl: control a running minisyncd", "minisyncctl"};
    app.add_option("--socket", options.socket_path,
                   "control socket of the agent (default: " + minisync::control::default_socket_path() + ", else " +
                       minisync::control::SystemAgentSocket + ")")
        ->type_name("PATH");
    app.add_flag("--json", options.json, "print the daemon's reply as one JSON object");
    app.add_flag("--debug", options.debug, "print the raw exchange on stderr");
    // At most one; "none" is reported below, so that a misspelt command is named as unexpected
    // rather than answered with "a subcommand is required".
    app.require_subcommand(0, 1);
    // Subcommands inherit this: the global options may also follow the subcommand (status --json).
    app.fallthrough();

    std::string folder;
    bool wait = false;
    bool accept_root = false;
    auto* status = app.add_subcommand("status", "show what the agent is doing");
    auto* pause = app.add_subcommand("pause", "stop sending changes (they keep being recorded)");
    auto* resume = app.add_subcommand("resume", "send the changes recorded while paused");
    auto* resync = app.add_subcommand("resync", "rescan and re-verify against the server, sending what differs");
    for (auto* command : {pause, resume, resync}) {
        command->add_option("FOLDER", folder, "only this folder (default: every folder)");
    }
    resync->add_flag("--wait", wait, "return only once the queue has drained; exit 1 if some files failed");
    resync->add_flag("--accept-root", accept_root,
                     "the directory now at FOLDER's path is the folder from now on (a suspended folder; see "
                     "docs/OPERATIONS.md); needs FOLDER");

    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        const int code = app.exit(e);
        return code == 0 ? minisync::ctl::ExitOk : minisync::ctl::ExitUsage;
    }

    if (app.get_subcommands().empty()) {
        std::cerr << "minisyncctl: a command is required: status, pause, resume or resync\n"
                     "Run with --help for more information.\n";
        return minisync::ctl::ExitUsage;
    }
    CLI::App* chosen = app.get_subcommands().front();
    options.request.command = chosen == status  ? Command::Status
                              : chosen == pause ? Command::Pause
                              : chosen == resume ? Command::Resume
                                                 : Command::Resync;
    if (chosen != status && chosen->count("FOLDER") > 0) {
        if (folder.empty()) {
            std::cerr << "minisyncctl: FOLDER must not be empty\n";
            return minisync::ctl::ExitUsage;
        }
        options.request.folder = folder;
    }
    options.request.wait = wait;
    options.request.accept_root = accept_root;
    if (accept_root && !options.request.folder) {
        std::cerr << "minisyncctl: resync --accept-root needs a FOLDER\n";
        return minisync::ctl::ExitUsage;
    }
    if (app.count("--socket") > 0 && options.socket_path.empty()) {
        std::cerr << "minisyncctl: --socket needs a path\n";
        return minisync::ctl::ExitUsage;
    }
    return minisync::ctl::run_command(options, std::cout, std::cerr);
}
