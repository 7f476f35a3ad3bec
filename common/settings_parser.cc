// CLI11 errors turned into what to print, the --config file loaded, and the sources wired to both.
#include "settings_parser.h"

#include <sstream>
#include <utility>
#include <variant>

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

SettingsParser::SettingsParser(std::string_view program, const std::string& description,
                               std::string_view example_flag)
    : program_{program}, app_{description, program_}
{
    app_.add_option("--config", config_path_,
                    "TOML file to read settings from; each flag is a key (" + std::string{example_flag} + ": " +
                        config_key(example_flag) + "), and flags given here override it")
        ->type_name("FILE");
}

std::optional<ParseFailure> SettingsParser::read(int argc, const char* const* argv)
{
    try {
        app_.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        std::ostringstream out;
        std::ostringstream err;
        const int code = app_.exit(e, out, err);
        return ParseFailure{code == 0 ? 0 : 2, out.str(), trim_final_newlines(err.str())};
    }
    if (app_.count("--config") > 0) {
        auto loaded = ConfigFile::load(config_path_);
        if (!loaded.ok()) {
            return ParseFailure{2, {}, program_ + ": " + loaded.error().message};
        }
        config_.emplace(std::move(loaded).value());
        top_.emplace(*config_, config_->root(), errors_);
    }
    from_.emplace(file(), [this](std::string_view flag) { return app_.count(std::string{flag}) > 0; }, errors_);
    return std::nullopt;
}

std::optional<ParseFailure> SettingsParser::failure() const
{
    if (errors_.empty()) {
        return std::nullopt;
    }
    return ParseFailure{2, {}, errors_.format(program_)};
}

} // namespace minisync
