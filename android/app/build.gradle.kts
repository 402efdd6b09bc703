// :app — demo: a chat screen (streaming tokens, stop) and a live sensor screen (accelerometer +
// gyroscope frames stepped through a session at the sensor rate, outputs plotted).
plugins {
    id("com.android.application")
    id("org.jetbrains.kotlin.android")
}

val repoRoot: File = rootProject.projectDir.parentFile
val bundledAssets = layout.buildDirectory.dir("generated/weftAssets")

android {
    namespace = "dev.weft.demo"
    compileSdk = 34

    defaultConfig {
        applicationId = "dev.weft.demo"
        minSdk = 26
        targetSdk = 34
        versionCode = 1
        versionName = "0.1.0"
        ndk {
            abiFilters += listOf("arm64-v8a", "x86_64")
        }
    }

    compileOptions {
        sourceCompatibility = JavaVersion.VERSION_17
        targetCompatibility = JavaVersion.VERSION_17
    }
    kotlinOptions {
        jvmTarget = "17"
    }

    // The model is memory-mapped from a file: keep it uncompressed in the APK so the first-run
    // copy out of the assets is a plain stream.
    androidResources {
        noCompress += "gguf"
    }
    sourceSets["main"].assets.srcDir(bundledAssets)
}

// Bundles the repository's demo models as assets: models/demo-text.gguf (7.5 MB Zamba2, text)
// and models/demo-sensor.gguf (340 KB Mamba-2 that predicts the next IMU frame).
val bundleDemoModel by tasks.registering(Copy::class) {
    from(repoRoot.resolve("models/demo-text.gguf"), repoRoot.resolve("models/demo-sensor.gguf"))
    into(bundledAssets)
}

tasks.named("preBuild") {
    dependsOn(bundleDemoModel)
}

dependencies {
    implementation(project(":weft"))
}
