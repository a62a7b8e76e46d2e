//! Generated bindings (private): one synthetic world that imports the robodev host
//! capabilities and exports every interface, so that shared types and host traits are
//! generated once. A plugin exports only one of the interfaces; its adapter loads just that
//! one through the interface's `GuestIndices`.

wasmtime::component::bindgen!({
    path: [
        "../../wit/types",
        "../../wit/host",
        "../../wit/ticketing",
        "../../wit/notifications",
        "../../wit/approval",
        "../../wit/secrets",
        "../../wit/scm",
        "../../wit/review",
        "../../wit/engine",
    ],
    inline: "
        package robodev:host-all;

        world all {
            include robodev:host/imports@1.1.0;
            export robodev:ticketing/backend@1.0.0;
            export robodev:notifications/channel@1.0.0;
            export robodev:approval/backend@1.0.0;
            export robodev:secrets/backend@1.0.0;
            export robodev:scm/backend@2.0.0;
            export robodev:review/backend@1.0.0;
            export robodev:engine/engine@1.0.0;
        }
    ",
    world: "robodev:host-all/all",
    imports: { default: async },
    exports: { default: async },
});

pub(crate) use exports::robodev as guest;
pub(crate) use robodev::host as host_api;
// `pub`: the v1 bindings below re-export it (the module itself is private to the crate).
pub use robodev::types::types as wit;

/// The older majors the host still serves, each bound on its own (a world cannot export two
/// versions of one package under the same names), sharing the robodev types above.
pub(crate) mod v1 {
    wasmtime::component::bindgen!({
        path: ["../../wit/types", "../../wit/host-1.0", "../../wit/scm-v1"],
        inline: "
            package robodev:host-v1;

            world scm-v1 {
                export robodev:scm/backend@1.0.0;
            }
        ",
        world: "robodev:host-v1/scm-v1",
        with: {
            "robodev:types/types": crate::bindings::wit,
        },
        exports: { default: async },
    });

    pub(crate) use exports::robodev::scm::backend as scm;
}
