// The command-line and config-file steps both daemons' settings parsers begin with.
#include "settings_outcome.h"

#include <sstream>

namespace minisync {
namespace {

std::string trim_final_newlines(std::string text)
{
    while (!text.empty() && text.back() == '\n') {
        text.pop_back();
    }
    return text;
}

} // namespace

std::optional<ParseFailure> parse_command_line(CLI::App& app, int argc, const char* const* argv)
{
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        std::ostringstream out;
        std::ostringstream err;
        const int code = app.exit(e, out, err);
        return ParseFailure{code == 0 ? 0 : 2, out.str(), trim_final_newlines(err.str())};
    }
    return std::nullopt;
}

std::variant<std::optional<ConfigFile>, ParseFailure> load_config_if_given(const CLI::App& app,
                                                                           const std::string& path,
                                                                           std::string_view program)
{
    if (app.count("--config") == 0) {
        return std::optional<ConfigFile>{};
    }
    auto loaded = ConfigFile::load(path);
    if (auto* message = std::get_if<std::string>(&loaded)) {
        return ParseFailure{2, {}, std::string{program} + ": " + *message};
    }
    return std::optional<ConfigFile>{std::move(std::get<ConfigFile>(loaded))};
}

} // namespace minisync
