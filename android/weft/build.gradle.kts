// :weft — the Java binding (sources shared with the host test in ../ffi/java) plus
// libweft_ffi.so for arm64-v8a and x86_64, built from the Rust workspace by cargo-ndk.
plugins {
    id("com.android.library")
}

/** The repository root (android/ lives one level below it). */
val repoRoot: File = rootProject.projectDir.parentFile
val rustJniLibs = layout.buildDirectory.dir("rustJniLibs")
val rustRelease = (findProperty("weft.rustRelease") as String?)?.toBoolean() ?: true

android {
    namespace = "dev.weft"
    compileSdk = 34
    ndkVersion = "27.0.12077973"

    defaultConfig {
        minSdk = 26
        consumerProguardFiles("consumer-rules.pro")
        ndk {
            abiFilters += listOf("arm64-v8a", "x86_64")
        }
    }

    compileOptions {
        sourceCompatibility = JavaVersion.VERSION_17
        targetCompatibility = JavaVersion.VERSION_17
    }

    sourceSets["main"].java.srcDir(repoRoot.resolve("ffi/java/src/main/java"))
    sourceSets["main"].jniLibs.srcDir(rustJniLibs)
}

// cargo ndk -t arm64-v8a -t x86_64 -o build/rustJniLibs build [--release] -p weft-ffi --features jni
val cargoNdk by tasks.registering(Exec::class) {
    group = "build"
    description = "Builds libweft_ffi.so (with the JNI entry points) for arm64-v8a and x86_64."
    workingDir = repoRoot
    val out = rustJniLibs.get().asFile
    val args = mutableListOf(
        "cargo", "ndk",
        "-t", "arm64-v8a", "-t", "x86_64",
        "--platform", "26",
        "-o", out.absolutePath,
        "build", "-p", "weft-ffi", "--features", "jni",
    )
    if (rustRelease) args += "--release"
    commandLine(args)
    // cargo-ndk finds the NDK through ANDROID_NDK_HOME; use the one AGP resolved.
    doFirst {
        environment("ANDROID_NDK_HOME", android.ndkDirectory.absolutePath)
    }
    inputs.files(fileTree(repoRoot) {
        include("Cargo.toml", "Cargo.lock", "runtime/**", "kernels/**", "ffi/**")
        exclude("**/target/**", "ffi/java/**")
    })
    outputs.dir(out)
}

tasks.named("preBuild") {
    dependsOn(cargoNdk)
}
