# Fails when an object compiled with ISA-specific flags (cpu/avx2, cpu/avx512) defines a weak
# (COMDAT) symbol. The linker keeps one copy of each weak symbol for the whole program, so an
# inline function or template instantiated in such a file could replace the copy that generic
# code calls, and run AVX-512 instructions on a CPU without them.
# Usage: cmake -DNM=<nm> -DOBJECTS="<objects>" -P check_isa_symbols.cmake
if(NOT NM)
    message(STATUS "nm not found: skipped")
    return()
endif()
set(failures "")
foreach(object IN LISTS OBJECTS)
    if(NOT object MATCHES "/cpu/(avx2|avx512)/")
        continue()
    endif()
    execute_process(COMMAND ${NM} -C ${object} OUTPUT_VARIABLE symbols RESULT_VARIABLE result)
    if(NOT result EQUAL 0)
        message(FATAL_ERROR "${NM} failed on ${object}")
    endif()
    string(REGEX MATCHALL "[^\n]* [WVu] [^\n]*" weak "${symbols}")
    # Type descriptors (which UndefinedBehaviorSanitizer's function check emits for every
    # function type) are data: whichever copy the linker keeps holds no instructions.
    list(FILTER weak EXCLUDE REGEX " V typeinfo (name )?for ")
    if(weak)
        string(APPEND failures "${object}:\n")
        foreach(line IN LISTS weak)
            string(APPEND failures "  ${line}\n")
        endforeach()
    endif()
endforeach()
if(failures)
    message(FATAL_ERROR "ISA-specific objects define weak symbols:\n${failures}")
endif()
