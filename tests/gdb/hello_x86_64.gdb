set pagination off
set confirm off
set remotetimeout 10
target remote 127.0.0.1:@PORT@
info threads
break main
continue
print $pc == main
stepi
watch *(int *)&rt_failures
print/x $pc
set $rbx = 0x1234abcd
print/x $rbx
print/x $eflags
print/x $cr0
x/2xb main
print *(int *)&rt_failures
set var *(int *)&rt_failures = 7
print *(int *)&rt_failures
set var *(int *)&rt_failures = 0
continue
