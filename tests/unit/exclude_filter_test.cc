// Tests for exclude patterns: names at any depth, paths anchored to the folder, '**' across directories,
// exclusion inherited from parent directories, and the agent's own partial-upload names.
#include "exclude_filter.h"

#include "path_rules.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace minisync::agent {
namespace {

TEST(ExcludeFilterTest, NoPatternsExcludesOrdinaryPaths)
{
    const ExcludeFilter filter{{}};
    for (const char* path : {"a", "a/b/c.txt", ".hidden", "dir/.minisync", ".minisync.part", "x.part"}) {
        EXPECT_FALSE(filter.excluded(path)) << path;
    }
}

TEST(ExcludeFilterTest, EmptyPatternsAreIgnored)
{
    const ExcludeFilter filter{{"", ""}};
    EXPECT_FALSE(filter.excluded("a"));
    EXPECT_FALSE(filter.excluded("a/b"));
}

TEST(ExcludeFilterTest, NamePatternMatchesAtAnyDepth)
{
    const ExcludeFilter filter{{"*.tmp", "Thumbs.db", "core"}};
    EXPECT_TRUE(filter.excluded("x.tmp"));
    EXPECT_TRUE(filter.excluded("a/x.tmp"));
    EXPECT_TRUE(filter.excluded("a/b/c/.tmp"));
    EXPECT_TRUE(filter.excluded("Thumbs.db"));
    EXPECT_TRUE(filter.excluded("photos/2024/Thumbs.db"));
    EXPECT_TRUE(filter.excluded("src/core"));

    EXPECT_FALSE(filter.excluded("x.tmp.txt"));
    EXPECT_FALSE(filter.excluded("a/x.tmpl"));
    EXPECT_FALSE(filter.excluded("thumbs.db")) << "matching is case-sensitive";
    EXPECT_FALSE(filter.excluded("src/core.c"));
    EXPECT_FALSE(filter.excluded("src/hardcore"));
}

TEST(ExcludeFilterTest, NamePatternWildcardsMatchWholeNamesOnly)
{
    const ExcludeFilter filter{{"?.o", "[ab]*"}};
    EXPECT_TRUE(filter.excluded("x.o"));
    EXPECT_TRUE(filter.excluded("dir/y.o"));
    EXPECT_FALSE(filter.excluded("xy.o"));
    EXPECT_TRUE(filter.excluded("apple"));
    EXPECT_TRUE(filter.excluded("c/banana"));
    EXPECT_FALSE(filter.excluded("cherry"));
}

TEST(ExcludeFilterTest, ParentDirectoryExcludedExcludesItsContents)
{
    const ExcludeFilter filter{{"node_modules", ".git", "*.cache"}};
    EXPECT_TRUE(filter.excluded("node_modules"));
    EXPECT_TRUE(filter.excluded("node_modules/pkg/index.js"));
    EXPECT_TRUE(filter.excluded("web/node_modules/pkg/index.js"));
    EXPECT_TRUE(filter.excluded(".git/objects/ab/cdef"));
    EXPECT_TRUE(filter.excluded("x/y.cache/z/file.txt"));
    EXPECT_FALSE(filter.excluded("web/node_modules2/index.js"));
    EXPECT_FALSE(filter.excluded("web/my.git/config"));
}

TEST(ExcludeFilterTest, TrailingSlashPatternIsANamePattern)
{
    const ExcludeFilter filter{{"build/"}};
    EXPECT_TRUE(filter.excluded("build"));
    EXPECT_TRUE(filter.excluded("build/out.o"));
    EXPECT_TRUE(filter.excluded("sub/build/out.o"));
    EXPECT_FALSE(filter.excluded("builder/out.o"));
}

TEST(ExcludeFilterTest, PathPatternIsAnchoredToTheFolder)
{
    const ExcludeFilter filter{{"docs/*.pdf", "/logs"}};
    EXPECT_TRUE(filter.excluded("docs/a.pdf"));
    EXPECT_FALSE(filter.excluded("x/docs/a.pdf"));
    EXPECT_FALSE(filter.excluded("docs.pdf"));
    EXPECT_FALSE(filter.excluded("a.pdf"));

    EXPECT_TRUE(filter.excluded("logs"));
    EXPECT_TRUE(filter.excluded("logs/today.log"));
    EXPECT_FALSE(filter.excluded("app/logs"));
    EXPECT_FALSE(filter.excluded("app/logs/today.log"));
}

TEST(ExcludeFilterTest, SingleStarStaysWithinOneComponent)
{
    const ExcludeFilter filter{{"docs/*.pdf", "a/?/c"}};
    EXPECT_FALSE(filter.excluded("docs/sub/a.pdf"));
    EXPECT_TRUE(filter.excluded("a/b/c"));
    EXPECT_FALSE(filter.excluded("a/bb/c"));
    EXPECT_FALSE(filter.excluded("a///c"));
}

TEST(ExcludeFilterTest, DoubleStarCrossesDirectories)
{
    const ExcludeFilter filter{{"src/**/*.o", "**/generated"}};
    EXPECT_TRUE(filter.excluded("src/a/main.o"));
    EXPECT_TRUE(filter.excluded("src/a/b/c/main.o"));
    EXPECT_FALSE(filter.excluded("lib/a/main.o"));
    EXPECT_FALSE(filter.excluded("src/a/main.c"));

    EXPECT_TRUE(filter.excluded("x/generated"));
    EXPECT_TRUE(filter.excluded("x/y/z/generated/file.h"));
}

// BUG (daemon/exclude_filter.cc, path_matches): a pattern containing '**' is matched without
// FNM_PATHNAME, so its single '*' and '?' cross '/' too, contrary to exclude_filter.h ("'*' and '?' stay
// within one component ... as in rsync"). Enable once fixed.
TEST(ExcludeFilterTest, SingleStarStaysWithinOneComponentBesideDoubleStar)
{
    const ExcludeFilter filter{{"src/**/test*.c", "a/**/x?y"}};
    EXPECT_TRUE(filter.excluded("src/a/test_io.c"));
    EXPECT_TRUE(filter.excluded("src/a/b/test.c"));
    EXPECT_FALSE(filter.excluded("src/a/test/unit/main.c")) << "'*' matched '/unit/main'";
    EXPECT_TRUE(filter.excluded("a/b/x-y"));
    EXPECT_FALSE(filter.excluded("a/b/x/y")) << "'?' matched '/'";
}

TEST(ExcludeFilterTest, PathPatternExcludesTheContentsOfAMatchedDirectory)
{
    const ExcludeFilter filter{{"data/raw", "cache/*"}};
    EXPECT_TRUE(filter.excluded("data/raw"));
    EXPECT_TRUE(filter.excluded("data/raw/2024/01.csv"));
    EXPECT_FALSE(filter.excluded("data/rawer/01.csv"));
    EXPECT_FALSE(filter.excluded("data"));
    EXPECT_TRUE(filter.excluded("cache/a"));
    EXPECT_TRUE(filter.excluded("cache/a/b/c"));
    EXPECT_FALSE(filter.excluded("cache"));
}

TEST(ExcludeFilterTest, PartialUploadNamesAreAlwaysExcluded)
{
    const ExcludeFilter none{{}};
    const ExcludeFilter some{{"*.tmp", "docs/*.pdf"}};
    for (const char* final_name : {"a", "report.pdf", "\xff\xfe odd name\n"}) {
        const std::string partial = partial_name_for(final_name);
        ASSERT_TRUE(is_partial_name(partial)) << partial;
        for (const ExcludeFilter* filter : {&none, &some}) {
            EXPECT_TRUE(filter->excluded(partial)) << partial;
            EXPECT_TRUE(filter->excluded("dir/" + partial)) << partial;
            EXPECT_TRUE(filter->excluded("a/b/c/" + partial)) << partial;
        }
    }
}

TEST(ExcludeFilterTest, NamesMerelyLookingLikePartialsAreNotExcluded)
{
    const ExcludeFilter filter{{}};
    const std::string partial = partial_name_for("a");
    ASSERT_EQ(partial.size(), std::string{".minisync."}.size() + 16 + std::string{".part"}.size()) << partial;
    EXPECT_TRUE(filter.excluded(".minisync.0123456789abcdef.part"));
    EXPECT_FALSE(filter.excluded(".minisync.0123456789ABCDEF.part")) << "upper-case hex is not ours";
    EXPECT_FALSE(filter.excluded(".minisync.0123456789abcde.part")) << "15 hex digits";
    EXPECT_FALSE(filter.excluded(".minisync.0123456789abcdef0.part")) << "17 hex digits";
    EXPECT_FALSE(filter.excluded(".minisync.0123456789abcdeg.part")) << "not hex";
    EXPECT_FALSE(filter.excluded("x" + partial));
    EXPECT_FALSE(filter.excluded(partial + ".bak"));
    EXPECT_TRUE(filter.excluded(partial + "/inside")) << "a directory with that name hides its contents";
}

TEST(ExcludeFilterTest, EditorScratchFilesAreExcludedByDefault)
{
    const ExcludeFilter filter{{}};
    for (const char* path : {".notes.txt.swp", "dir/.x.swx", "report.doc~", "sub/.#report.doc", "deep/er/4913",
                             ".~lock.sheet.ods#"}) {
        EXPECT_TRUE(filter.excluded(path)) << path;
    }
    for (const char* path : {"swp", "notes.swp.txt", "49130", "a~b", "report.#doc", ".~lock.sheet.ods"}) {
        EXPECT_FALSE(filter.excluded(path)) << path;
    }
}

TEST(ExcludeFilterTest, UserPatternsAddToTheDefaults)
{
    const ExcludeFilter filter{{"*.o"}};
    EXPECT_TRUE(filter.excluded("src/main.o"));
    EXPECT_TRUE(filter.excluded("src/.main.c.swp"));
    EXPECT_FALSE(filter.excluded("src/main.c"));
}

} // namespace
} // namespace minisync::agent
