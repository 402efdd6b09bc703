//! Every WGSL kernel × variant × tier validates with naga (no GPU needed), and stays inside the
//! downlevel limits: ≤ 4 storage buffers (7 for matvec1's CONV, recorded only where the adapter
//! has them), ≤ 256 invocations, workgroup memory ≤ 16352 bytes
//! (wgpu's downlevel default), bindings as `Kernel::storage` declares them.

use naga::valid::{Capabilities, ValidationFlags, Validator};
use naga::{AddressSpace, StorageAccess};
use weft_kernels::gpu::shader::{Access, Kernel, Tier, build};

const TIERS: [Tier; 4] = [
    Tier::Base,
    Tier::Subgroups { size: 8 },
    Tier::Subgroups { size: 32 },
    Tier::Subgroups { size: 64 },
];

fn validate(kernel: Kernel, defines: &[&str], tier: Tier) -> Result<(), String> {
    let src = build(kernel, defines, tier).map_err(|e| e.to_string())?;
    let module = naga::front::wgsl::parse_str(&src).map_err(|e| e.emit_to_string(&src))?;
    let caps = match tier {
        Tier::Base => Capabilities::empty(),
        Tier::Subgroups { .. } => Capabilities::SUBGROUP,
    };
    let info = Validator::new(ValidationFlags::all(), caps)
        .validate(&module)
        .map_err(|e| e.emit_to_string(&src))?;
    if module.entry_points.len() != 1 {
        return Err("exactly one entry point".into());
    }
    let ep = &module.entry_points[0];
    let [x, y, z] = ep.workgroup_size;
    if x * y * z > 256 {
        return Err(format!("workgroup of {} invocations", x * y * z));
    }
    let uses = info.get_entry_point(0);
    let (mut shared, mut storage) = (0u32, Vec::new());
    for (h, g) in module.global_variables.iter() {
        if uses[h].is_empty() {
            continue;
        }
        match g.space {
            AddressSpace::WorkGroup => shared += module.types[g.ty].inner.size(module.to_ctx()),
            AddressSpace::Storage { access } => {
                let b = g
                    .binding
                    .as_ref()
                    .expect("storage globals are bound")
                    .binding;
                let rw = access.contains(StorageAccess::STORE);
                storage.push((b, rw));
            }
            _ => {}
        }
    }
    if shared > 16352 {
        return Err(format!("{shared} bytes of workgroup memory"));
    }
    // CONV (matvec1's conv epilogue) is recorded only where the adapter has 7 storage buffers.
    let most = if defines.contains(&"CONV") { 7 } else { 4 };
    if storage.len() > most {
        return Err(format!("{} storage buffers", storage.len()));
    }
    for (b, rw) in storage {
        let want = match b {
            2 => Some(Access::ReadWrite),
            b => kernel.storage_of(defines).get(b as usize - 3).copied(),
        };
        let got = if rw { Access::ReadWrite } else { Access::Read };
        if want != Some(got) {
            return Err(format!("binding {b} is {got:?}, declared {want:?}"));
        }
    }
    Ok(())
}

#[test]
fn every_kernel_variant_and_tier_validates() {
    let mut failures = Vec::new();
    let mut count = 0;
    for kernel in Kernel::ALL {
        for defines in kernel.variants() {
            for tier in TIERS {
                count += 1;
                if let Err(e) = validate(kernel, &defines, tier) {
                    failures.push(format!("{} {defines:?} {tier:?}:\n{e}", kernel.file()));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    println!("{count} shader variants validated");
    assert!(count >= 4 * 17);
}
