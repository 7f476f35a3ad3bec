// Tests for name, folder, client CN and relative path validation, split_path, and the reserved partial names.
#include "path_rules.h"

#include <gtest/gtest.h>

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace minisync {
namespace {

// n components of `width` 'x'-bytes (the last uses 'y' so components are distinguishable) joined by '/'.
std::string path_of(std::size_t n, std::size_t width)
{
    std::string path;
    for (std::size_t i = 0; i < n; ++i) {
        if (i != 0) {
            path += '/';
        }
        path += std::string(width, i + 1 == n ? 'y' : 'x');
    }
    return path;
}

struct PathCase {
    std::string description;
    std::string path;
};

std::vector<PathCase> hostile_paths()
{
    const std::string partial = partial_name_for("x");
    return {
        {"empty", ""},
        {"absolute", "/etc/passwd"},
        {"absolute root", "/"},
        {"double leading slash", "//a"},
        {"dot-dot", ".."},
        {"dot-dot prefix", "../x"},
        {"dot-dot in the middle", "a/../b"},
        {"dot-dot at the end", "a/.."},
        {"dot", "."},
        {"dot prefix", "./a"},
        {"dot in the middle", "a/./b"},
        {"dot at the end", "a/."},
        {"empty component", "a//b"},
        {"trailing slash", "a/"},
        {"trailing slash after nested", "a/b/"},
        {"only slashes", "///"},
        {"embedded NUL", std::string{"a\0b", 3}},
        {"embedded NUL in second component", std::string{"a/b\0c", 5}},
        {"trailing NUL", std::string{"a\0", 2}},
        {"component of 256 bytes", std::string(256, 'x')},
        {"nested component of 256 bytes", "a/" + std::string(256, 'x') + "/b"},
        // 17 components of 240 bytes: every component is fine, only the total (4096) is too long.
        {"total of 4096 bytes", path_of(17, 240)},
        {"total of 4097 bytes", path_of(16, 255) + "/y"},
        {"reserved partial name", partial},
        {"reserved partial name nested", "dir/" + partial},
        {"reserved partial name as directory", partial + "/file"},
    };
}

std::vector<PathCase> good_paths()
{
    return {
        {"single name", "a"},
        {"nested", "a/b/c.txt"},
        {"spaces", "name with spaces"},
        {"non-UTF-8 bytes", "\xff\xfe"},
        {"non-UTF-8 nested", "dir/\x80\xc0/f"},
        {"hidden file", ".hidden"},
        {"dot-dot prefixed name", "..foo"},
        {"three dots", "..."},
        {"dots inside", "a..b"},
        {"trailing dot in name", "a."},
        {"backslash is an ordinary byte on Linux", "a\\..\\b"},
        {"255-byte component", std::string(255, 'x')},
        {"nested 255-byte component", "a/" + std::string(255, 'x') + "/b"},
        {"exactly 4095 bytes", path_of(16, 255)},
        {"partial prefix without hash", ".minisync.part"},
        {"partial lookalike with upper-case hex", ".minisync.0123456789ABCDEF.part"},
    };
}

TEST(PathRulesTest, HostileRelativePathsAreRefused)
{
    for (const PathCase& c : hostile_paths()) {
        const std::optional<std::string> reason = check_relative_path(c.path);
        ASSERT_TRUE(reason.has_value()) << c.description << " was accepted";
        EXPECT_FALSE(reason->empty()) << c.description << " was refused without a reason";
    }
}

TEST(PathRulesTest, GoodRelativePathsPass)
{
    for (const PathCase& c : good_paths()) {
        const std::optional<std::string> reason = check_relative_path(c.path);
        EXPECT_FALSE(reason.has_value()) << c.description << " was refused: " << reason.value_or("");
    }
}

TEST(PathRulesTest, LengthFixturesHaveTheIntendedSizes)
{
    EXPECT_EQ(path_of(16, 255).size(), MaxRelativePathBytes);
    EXPECT_EQ(path_of(17, 240).size(), MaxRelativePathBytes + 1);
    EXPECT_EQ(MaxRelativePathBytes, 4095U);
    EXPECT_EQ(MaxNameBytes, 255U);
}

TEST(PathRulesTest, SplitPath)
{
    using Parts = std::vector<std::string_view>;
    EXPECT_EQ(split_path("a"), (Parts{"a"}));
    EXPECT_EQ(split_path("a/b/c.txt"), (Parts{"a", "b", "c.txt"}));
    EXPECT_EQ(split_path(""), (Parts{""}));
    EXPECT_EQ(split_path("a//b"), (Parts{"a", "", "b"}));
    EXPECT_EQ(split_path("/a"), (Parts{"", "a"}));
    EXPECT_EQ(split_path("a/"), (Parts{"a", ""}));
    EXPECT_EQ(split_path("/"), (Parts{"", ""}));
    const std::string with_nul{"a\0b/c", 5};
    EXPECT_EQ(split_path(with_nul), (Parts{std::string_view{"a\0b", 3}, "c"}));
}

TEST(PathRulesTest, SplitPathViewsPointIntoTheInput)
{
    const std::string path = "one/two";
    const std::vector<std::string_view> parts = split_path(path);
    ASSERT_EQ(parts.size(), 2U);
    EXPECT_EQ(parts[0].data(), path.data());
    EXPECT_EQ(parts[1].data(), path.data() + 4);
}

TEST(PathRulesTest, NameComponent)
{
    EXPECT_TRUE(is_valid_name_component("a"));
    EXPECT_TRUE(is_valid_name_component(".hidden"));
    EXPECT_TRUE(is_valid_name_component("..."));
    EXPECT_TRUE(is_valid_name_component(std::string(255, 'x')));
    EXPECT_FALSE(is_valid_name_component(""));
    EXPECT_FALSE(is_valid_name_component("."));
    EXPECT_FALSE(is_valid_name_component(".."));
    EXPECT_FALSE(is_valid_name_component("a/b"));
    EXPECT_FALSE(is_valid_name_component("/"));
    EXPECT_FALSE(is_valid_name_component(std::string_view{"a\0b", 3}));
    EXPECT_FALSE(is_valid_name_component(std::string(256, 'x')));
}

TEST(PathRulesTest, FolderNames)
{
    for (const std::string& good : {std::string{"docs"}, std::string{"my folder"}, std::string{"\xff\xfe"},
                                    std::string{".config"}, std::string{"a..b"}, std::string(255, 'f')}) {
        EXPECT_TRUE(is_valid_folder_name(good)) << "'" << good << "' was refused";
    }
    for (const std::string& bad : {std::string{}, std::string{"."}, std::string{".."}, std::string{"a/b"},
                                   std::string{"/docs"}, std::string{"docs/"}, std::string{"a\0b", 3},
                                   std::string(256, 'f')}) {
        EXPECT_FALSE(is_valid_folder_name(bad)) << "'" << bad << "' was accepted";
    }
}

TEST(PathRulesTest, ClientCommonNames)
{
    for (const std::string& good : {std::string{"client-1"}, std::string{"host.example.com"},
                                    std::string{"name with spaces"}, std::string{"a."}, std::string(255, 'c')}) {
        EXPECT_TRUE(is_valid_client_cn(good)) << "'" << good << "' was refused";
    }
    for (const std::string& bad : {std::string{}, std::string{"."}, std::string{".."}, std::string{".hidden"},
                                   std::string{"..."}, std::string{"a/b"}, std::string{"/"},
                                   std::string{"a\0b", 3}, std::string(256, 'c'), partial_name_for("c")}) {
        EXPECT_FALSE(is_valid_client_cn(bad)) << "'" << bad << "' was accepted";
    }
}

TEST(PathRulesTest, PartialNameIsDeterministicAndDistinct)
{
    EXPECT_EQ(partial_name_for("report.pdf"), partial_name_for("report.pdf"));
    EXPECT_NE(partial_name_for("report.pdf"), partial_name_for("report.pdf2"));
    EXPECT_NE(partial_name_for("a"), partial_name_for("b"));
    EXPECT_NE(partial_name_for("a"), partial_name_for("A"));
    EXPECT_NE(partial_name_for(""), partial_name_for("x"));
}

// Partial names persist on disk across restarts, so their exact form is part of the on-disk format:
// ".minisync." + the first 8 bytes of SHA-256(final name) in lower-case hex + ".part".
TEST(PathRulesTest, PartialNameFormatIsStable)
{
    EXPECT_EQ(partial_name_for(""), ".minisync.e3b0c44298fc1c14.part");
    EXPECT_EQ(partial_name_for("abc"), ".minisync.ba7816bf8f01cfea.part");
}

TEST(PathRulesTest, PartialNamesAreRecognised)
{
    for (const std::string& final_name : {std::string{"x"}, std::string{"report.pdf"}, std::string{""},
                                          std::string{"\xff\xfe"}, std::string(255, 'z')}) {
        const std::string partial = partial_name_for(final_name);
        EXPECT_TRUE(is_partial_name(partial)) << partial;
        EXPECT_TRUE(is_valid_name_component(partial)) << partial;
        EXPECT_FALSE(is_partial_name(final_name));
    }
}

TEST(PathRulesTest, PartialNameNearMissesAreNotPartialNames)
{
    const std::string good = ".minisync.0123456789abcdef.part";
    ASSERT_TRUE(is_partial_name(good));
    for (const std::string_view miss : {
             "",
             ".minisync.0123456789ABCDEF.part", // upper-case hex
             ".minisync.0123456789abcdeg.part", // non-hex character
             ".minisync.0123456789abcde.part",  // 15 hex chars
             ".minisync.0123456789abcdef0.part", // 17 hex chars
             ".minisync.0123456789abcdef.par",  // truncated suffix
             ".minisync.0123456789abcdef.partx", // extra byte
             ".minisync.0123456789abcdef",      // no suffix
             "minisync.0123456789abcdef.part",  // no leading dot
             "_minisync.0123456789abcdef.part", // wrong prefix
             ".minisync_0123456789abcdef.part", // wrong separator
             ".minisync.0123456789abcdef_part", // wrong separator
             "x.minisync.0123456789abcdef.part", // leading byte
             ".minisync..part",
             ".minisync.0123456789 abcde.part",
         }) {
        EXPECT_FALSE(is_partial_name(miss)) << "'" << miss << "' was taken for a partial name";
    }
    EXPECT_FALSE(is_partial_name(std::string_view{".minisync.0123456789abcde\0.part", 31}));
}

} // namespace
} // namespace minisync
