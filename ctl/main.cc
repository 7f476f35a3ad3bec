// minisyncctl: controls a running minisyncd over its Unix socket. The control protocol is not served
// by the agent yet, so every command reports that the daemon cannot be reached (exit 3).
#include <CLI/CLI.hpp>

#include <iostream>

int main(int argc, char** argv)
{
    CLI::App app{"minisyncctl: control a running minisyncd", "minisyncctl"};
    std::string socket_path;
    bool json = false;
    app.add_option("--socket", socket_path, "control socket of the agent");
    app.add_flag("--json", json, "print machine-readable JSON");
    app.require_subcommand(1);
    for (const char* name : {"status", "pause", "resume", "resync"}) {
        auto* command = app.add_subcommand(name);
        command->allow_extras();
    }
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        const int code = app.exit(e);
        return code == 0 ? 0 : 2;
    }
    std::cerr << "minisyncctl: cannot reach the daemon: this agent does not serve a control socket yet\n";
    return 3;
}
