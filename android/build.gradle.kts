// Plugin versions for both modules (AGP 8.5 needs Gradle ≥ 8.7 and JDK 17).
plugins {
    id("com.android.library") version "8.5.2" apply false
    id("com.android.application") version "8.5.2" apply false
    id("org.jetbrains.kotlin.android") version "2.0.20" apply false
}
