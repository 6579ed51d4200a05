# vmdl_build_guests(SRC_DIR OUT_DIR OUT_VAR): every <SRC_DIR>/x86_64/*.S and
# *.c file is one x86-64 guest (linked with the small runtime in
# examples/guests/x86_64/rt/), every <SRC_DIR>/arm64/*.S one arm64 guest
# (runtime examples/guests/arm64/rt/).  Each becomes
# <OUT_DIR>/<arch>/<name>.elf; the list of ELF files goes to OUT_VAR.
# Used by examples/guests (the examples) and tests/guests (test fixtures).
set(VMDL_X86_RT_DIR ${PROJECT_SOURCE_DIR}/examples/guests/x86_64/rt)
set(VMDL_ARM_RT_DIR ${PROJECT_SOURCE_DIR}/examples/guests/arm64/rt)
set(VMDL_X86_GUEST_CFLAGS -ffreestanding -nostdlib -static -fno-pic -no-pie
    -fno-stack-protector -mno-red-zone -mgeneral-regs-only -O2 -Wall -Wextra
    -Werror -std=gnu11 -fno-asynchronous-unwind-tables -fcf-protection=none
    -I${VMDL_X86_RT_DIR} -I${PROJECT_SOURCE_DIR}/include
    -Wl,-T,${VMDL_X86_RT_DIR}/guest.ld -Wl,--build-id=none
    -Wl,-z,noexecstack -Wl,-z,max-page-size=4096 -Wl,--no-warn-rwx-segments)
find_program(AARCH64_AS aarch64-linux-gnu-as)
find_program(AARCH64_LD aarch64-linux-gnu-ld)

function(vmdl_build_guests src_dir out_dir out_var)
  set(elfs "")
  # --- x86-64: host gcc/as, freestanding, linked at 0x100000 ---
  file(GLOB rt_sources CONFIGURE_DEPENDS ${VMDL_X86_RT_DIR}/*.S ${VMDL_X86_RT_DIR}/*.c)
  file(GLOB rt_headers CONFIGURE_DEPENDS ${VMDL_X86_RT_DIR}/*.h ${VMDL_X86_RT_DIR}/*.ld)
  file(GLOB x86 CONFIGURE_DEPENDS ${src_dir}/x86_64/*.S ${src_dir}/x86_64/*.c)
  file(GLOB x86_headers CONFIGURE_DEPENDS ${src_dir}/x86_64/*.h)
  file(MAKE_DIRECTORY ${out_dir}/x86_64)
  foreach(src IN LISTS x86)
    get_filename_component(name ${src} NAME_WE)
    set(out ${out_dir}/x86_64/${name}.elf)
    add_custom_command(OUTPUT ${out}
      COMMAND gcc ${VMDL_X86_GUEST_CFLAGS} -o ${out} ${rt_sources} ${src}
      DEPENDS ${src} ${rt_sources} ${rt_headers} ${x86_headers}
      COMMENT "x86-64 guest ${name}" VERBATIM)
    list(APPEND elfs ${out})
  endforeach()
  # --- arm64: aarch64 binutils (no cross compiler needed), linked at 0x40080000 ---
  file(GLOB arm CONFIGURE_DEPENDS ${src_dir}/arm64/*.S)
  file(GLOB arm_rt CONFIGURE_DEPENDS ${VMDL_ARM_RT_DIR}/*)
  # Include files beside the guests (shared macros of one guest family).
  file(GLOB arm_inc CONFIGURE_DEPENDS ${src_dir}/arm64/*.inc)
  file(MAKE_DIRECTORY ${out_dir}/arm64)
  if(AARCH64_AS AND AARCH64_LD)
    foreach(src IN LISTS arm)
      get_filename_component(name ${src} NAME_WE)
      set(obj ${out_dir}/arm64/${name}.o)
      set(out ${out_dir}/arm64/${name}.elf)
      add_custom_command(OUTPUT ${out}
        COMMAND ${AARCH64_AS} -I ${VMDL_ARM_RT_DIR} -I ${src_dir}/arm64 -o ${obj} ${src}
        COMMAND ${AARCH64_LD} -T ${VMDL_ARM_RT_DIR}/guest.ld --build-id=none -o ${out} ${obj}
        DEPENDS ${src} ${arm_rt} ${arm_inc}
        COMMENT "arm64 guest ${name}" VERBATIM)
      list(APPEND elfs ${out})
    endforeach()
  elseif(arm)
    message(WARNING "aarch64 binutils not found: arm64 guests are not built")
  endif()
  set(${out_var} ${elfs} PARENT_SCOPE)
endfunction()
