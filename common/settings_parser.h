// The steps both daemons' settings parsers share, in their order: declare the flags (--config first),
// parse the command line, read the file it names, take each setting from its sources (defaults, then the
// file, then the flags given), and end with exit code 2 and every problem found on the way.
#pragma once

#include "config_file.h"
#include "settings_outcome.h"

#include <CLI/CLI.hpp>

#include <optional>
#include <string>
#include <string_view>

namespace minisync {

class SettingsParser {
public:
    // program starts every message ("minisyncd: ..."); description heads --help; example_flag is the flag
    // --config's help uses to show how flags become keys ("--server-name" for server_name).
    SettingsParser(std::string_view program, const std::string& description, std::string_view example_flag);
    // from() asks app_ which flags were given.
    SettingsParser(const SettingsParser&) = delete;
    SettingsParser& operator=(const SettingsParser&) = delete;

    // Where the daemon declares its own flags, before read().
    [[nodiscard]] CLI::App& app() noexcept { return app_; }

    // Parses the command line and reads the file of --config, if given. After --help or a usage error, or
    // when the file cannot be read or parsed, what to report.
    std::optional<ParseFailure> read(int argc, const char* const* argv);

    // After a successful read(): each setting's sources, the file's top table (nullptr without a file),
    // the file itself, and the problems found so far.
    [[nodiscard]] const SettingSources& from() const { return *from_; }
    [[nodiscard]] TableReader* file() noexcept { return top_ ? &*top_ : nullptr; }
    [[nodiscard]] const ConfigFile* config() const noexcept { return config_ ? &*config_ : nullptr; }
    [[nodiscard]] ConfigErrors& errors() noexcept { return errors_; }

    // Once every setting is read: exit code 2 with every problem recorded, if there is one.
    [[nodiscard]] std::optional<ParseFailure> failure() const;

private:
    std::string program_;
    CLI::App app_;
    std::string config_path_;
    ConfigErrors errors_;
    std::optional<ConfigFile> config_;
    std::optional<TableReader> top_;
    std::optional<SettingSources> from_;
};

} // namespace minisync
