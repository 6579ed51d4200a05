# Flat multiboot test guests: a GNU as source linked at 0x100000 into a
# binary image, plus a header embedding the same bytes (cmake/bin2h.cmake).
#
#   vmdl_flat_guest(NAME SOURCE)
# makes target flat_guest_<NAME>, the image ${VMDL_FLAT_GUEST_DIR}/<NAME>.bin
# and the header ${VMDL_FLAT_GUEST_DIR}/<NAME>_image.h declaring
# "static const uint8_t <NAME>_image[]".  Sources may .include files that
# sit beside them (the shared long-mode entry, lm64.inc).
set(VMDL_FLAT_GUEST_DIR ${PROJECT_BINARY_DIR}/flat_guests)

function(vmdl_flat_guest name source)
  get_filename_component(src ${source} ABSOLUTE)
  get_filename_component(srcdir ${src} DIRECTORY)
  file(GLOB incs ${srcdir}/*.inc)
  set(dir ${VMDL_FLAT_GUEST_DIR})
  add_custom_command(OUTPUT ${dir}/${name}.bin ${dir}/${name}_image.h
    COMMAND ${CMAKE_COMMAND} -E make_directory ${dir}
    COMMAND as --64 -I ${srcdir} -o ${dir}/${name}.o ${src}
    COMMAND ld -N -Ttext=0x100000 --oformat binary -o ${dir}/${name}.bin ${dir}/${name}.o
    COMMAND ${CMAKE_COMMAND} -DIN=${dir}/${name}.bin -DOUT=${dir}/${name}_image.h
            -DVAR=${name}_image -P ${PROJECT_SOURCE_DIR}/cmake/bin2h.cmake
    DEPENDS ${src} ${incs} ${PROJECT_SOURCE_DIR}/cmake/bin2h.cmake
    COMMENT "flat test guest ${name}" VERBATIM)
  add_custom_target(flat_guest_${name} DEPENDS ${dir}/${name}.bin ${dir}/${name}_image.h)
endfunction()

# Lets TARGET include "<name>_image.h" (or load <name>.bin) of each guest.
function(vmdl_use_flat_guests target)
  target_include_directories(${target} PRIVATE ${VMDL_FLAT_GUEST_DIR})
  foreach(name IN LISTS ARGN)
    add_dependencies(${target} flat_guest_${name})
  endforeach()
endfunction()
