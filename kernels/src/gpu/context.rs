//! Adapter selection (Vulkan → Metal → DX12 → GLES), capability tier and device limits.

use wgpu::{Backend, Backends, DeviceType, Features, Limits};

use super::GpuError;
use super::shader::Tier;

/// How to pick the adapter. `Default` reads `WEFT_GPU_ADAPTER` (substring of the adapter name)
/// and `WEFT_GPU_TIER=0` (force the downlevel tier).
#[derive(Clone, Debug, Default)]
pub struct GpuOptions {
    /// Only adapters whose name contains this (case-insensitive).
    pub adapter: Option<String>,
    /// Use tier 0 even if the adapter has subgroups.
    pub force_base_tier: bool,
}

impl GpuOptions {
    pub fn from_env() -> Self {
        GpuOptions {
            adapter: std::env::var("WEFT_GPU_ADAPTER")
                .ok()
                .filter(|s| !s.is_empty()),
            force_base_tier: std::env::var("WEFT_GPU_TIER").is_ok_and(|v| v == "0"),
        }
    }
}

/// A device and queue with the tier its kernels are built for.
pub struct GpuContext {
    pub device: wgpu::Device,
    pub queue: wgpu::Queue,
    pub info: wgpu::AdapterInfo,
    pub tier: Tier,
    /// The limits the device was created with.
    pub limits: Limits,
}

impl std::fmt::Debug for GpuContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "GpuContext({})", self.describe())
    }
}

fn backend_rank(b: Backend) -> u32 {
    match b {
        Backend::Vulkan => 0,
        Backend::Metal => 1,
        Backend::Dx12 => 2,
        Backend::Gl => 3,
        _ => 4,
    }
}

fn type_rank(t: DeviceType) -> u32 {
    match t {
        DeviceType::DiscreteGpu => 0,
        DeviceType::IntegratedGpu => 1,
        DeviceType::VirtualGpu => 2,
        DeviceType::Other => 3,
        DeviceType::Cpu => 4,
    }
}

/// The tier an adapter supports: subgroups when it has them at one fixed size.
pub fn tier_of(features: Features, info: &wgpu::AdapterInfo) -> Tier {
    let (lo, hi) = (info.subgroup_min_size, info.subgroup_max_size);
    if features.contains(Features::SUBGROUP)
        && lo == hi
        && lo.is_power_of_two()
        && (4..=128).contains(&lo)
    {
        Tier::Subgroups { size: lo }
    } else {
        Tier::Base
    }
}

/// What weft asks for: the downlevel defaults, with storage bindings and buffers as large as
/// the adapter allows (else they stay capped at 128 / 256 MiB). Requested as min(adapter, need).
pub fn required_limits(adapter: &Limits) -> Limits {
    let need = Limits {
        max_storage_buffer_binding_size: 1 << 31,
        max_buffer_size: 1 << 40,
        // Seven where the adapter has them: matvec1's fused conv epilogue (else four).
        max_storage_buffers_per_shader_stage: 7,
        ..Limits::downlevel_defaults()
    };
    need.or_worse_values_from(adapter)
}

impl GpuContext {
    /// Picks the first adapter in the order Vulkan → Metal → DX12 → GLES (discrete before
    /// integrated before software within a backend) that can run compute with 4 storage buffers.
    pub fn new(opts: &GpuOptions) -> Result<Self, GpuError> {
        let instance = wgpu::Instance::new(wgpu::InstanceDescriptor {
            backends: Backends::VULKAN | Backends::METAL | Backends::DX12 | Backends::GL,
            ..wgpu::InstanceDescriptor::new_without_display_handle()
        });
        let mut adapters = pollster::block_on(instance.enumerate_adapters(Backends::all()));
        let seen: Vec<String> = adapters.iter().map(|a| a.get_info().name).collect();
        adapters.retain(|a| {
            let info = a.get_info();
            let caps = a.get_downlevel_capabilities();
            let l = a.limits();
            caps.flags.contains(wgpu::DownlevelFlags::COMPUTE_SHADERS)
                && l.max_storage_buffers_per_shader_stage >= 4
                && l.max_compute_invocations_per_workgroup >= 256
                && opts
                    .adapter
                    .as_ref()
                    .is_none_or(|f| info.name.to_lowercase().contains(&f.to_lowercase()))
        });
        adapters.sort_by_key(|a| {
            let i = a.get_info();
            (backend_rank(i.backend), type_rank(i.device_type))
        });
        let adapter = adapters.into_iter().next().ok_or_else(|| {
            GpuError::NoAdapter(if seen.is_empty() {
                "no adapter at all (is a Vulkan/Metal/DX12/GL driver installed?)".into()
            } else {
                format!(
                    "none of {seen:?} has compute with 4 storage buffers (or matches the filter)"
                )
            })
        })?;
        let info = adapter.get_info();
        let mut tier = tier_of(adapter.features(), &info);
        if opts.force_base_tier {
            tier = Tier::Base;
        }
        let features = match tier {
            Tier::Subgroups { .. } => Features::SUBGROUP,
            Tier::Base => Features::empty(),
        };
        let mut limits = required_limits(&adapter.limits());
        if opts.force_base_tier {
            limits.max_storage_buffers_per_shader_stage = 4;
        }
        let (device, queue) = pollster::block_on(adapter.request_device(&wgpu::DeviceDescriptor {
            label: Some("weft"),
            required_features: features,
            required_limits: limits.clone(),
            ..Default::default()
        }))
        .map_err(|e| GpuError::Device(e.to_string()))?;
        Ok(GpuContext {
            device,
            queue,
            info,
            tier,
            limits,
        })
    }

    /// Largest byte size of one storage binding (and of one buffer).
    pub fn max_binding(&self) -> u64 {
        self.limits
            .max_storage_buffer_binding_size
            .min(self.limits.max_buffer_size)
    }

    /// Storage buffers one kernel may bind (4 on downlevel adapters and the forced base tier).
    pub fn storage_buffers(&self) -> u32 {
        self.limits.max_storage_buffers_per_shader_stage
    }

    /// Offset alignment of storage bindings (256 on every downlevel adapter).
    pub fn align(&self) -> u64 {
        u64::from(self.limits.min_storage_buffer_offset_alignment.max(256))
    }

    /// One line: adapter, backend, tier.
    pub fn describe(&self) -> String {
        format!(
            "{} ({:?}, {:?}, driver {} {}), tier {} ({:?}), max binding {} MiB",
            self.info.name,
            self.info.backend,
            self.info.device_type,
            self.info.driver,
            self.info.driver_info,
            self.tier.level(),
            self.tier,
            self.max_binding() >> 20
        )
    }

    /// Blocks until the queue is idle.
    pub fn wait(&self) -> Result<(), GpuError> {
        self.device
            .poll(wgpu::PollType::wait_indefinitely())
            .map(|_| ())
            .map_err(|e| GpuError::Wgpu(e.to_string()))
    }
}
