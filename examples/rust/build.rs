//! Links libsoftce as `pkg-config softce` describes it: runs the pkg-config binary (or the one
//! named by $PKG_CONFIG), so PKG_CONFIG_PATH selects an installation like for a C program.
//! The library directory is also recorded as a run path, so tests and examples run from a
//! prefix outside the loader's default directories without LD_LIBRARY_PATH.

use std::env;
use std::process::Command;

fn pkg_config(args: &[&str]) -> String {
    let program = env::var("PKG_CONFIG").unwrap_or_else(|_| "pkg-config".to_string());
    let output = Command::new(&program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {} (install pkg-config)", program, e));
    if !output.status.success() {
        panic!(
            "`{} {}` failed: {}\nInstall libsoftce-dev, or point PKG_CONFIG_PATH at the \
             directory of softce.pc.",
            program,
            args.join(" "),
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    String::from_utf8(output.stdout).expect("pkg-config printed invalid UTF-8")
}

/// A relocatable softce.pc gives paths like <prefix>/lib/pkgconfig/../../lib: resolve them.
fn tidy(dir: &str) -> String {
    std::fs::canonicalize(dir)
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_else(|_| dir.to_string())
}

fn main() {
    for var in [
        "PKG_CONFIG",
        "PKG_CONFIG_PATH",
        "PKG_CONFIG_LIBDIR",
        "PKG_CONFIG_SYSROOT_DIR",
    ] {
        println!("cargo:rerun-if-env-changed={}", var);
    }
    println!("cargo:rerun-if-changed=build.rs");

    pkg_config(&["--print-errors", "--atleast-version=1.0", "softce"]);
    let libs = pkg_config(&["--libs", "softce"]);
    let mut linked = false;
    for flag in libs.split_whitespace() {
        if let Some(dir) = flag.strip_prefix("-L") {
            println!("cargo:rustc-link-search=native={}", tidy(dir));
        } else if let Some(name) = flag.strip_prefix("-l") {
            println!("cargo:rustc-link-lib=dylib={}", name);
            linked |= name == "softce";
        }
    }
    assert!(
        linked,
        "pkg-config --libs softce does not name -lsoftce: {}",
        libs
    );

    let libdir = pkg_config(&["--variable=libdir", "softce"]);
    let libdir = tidy(libdir.trim());
    if !libdir.is_empty() {
        println!("cargo:rustc-link-arg=-Wl,-rpath,{}", libdir);
        println!("cargo:libdir={}", libdir);
    }
}
