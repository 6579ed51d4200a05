set pagination off
set confirm off
set remotetimeout 10
target remote 127.0.0.1:@PORT@
info threads
break *work
continue
print $pc == (long)&work
print/x $cr0
print $cr3 == (long)&page_dir
stepi
print (long)$pc - (long)&work
print *(int *)(0xC0000000 + (long)&counter)
set var *(int *)(0xC0000000 + (long)&counter) = 10
print *(int *)(long)&counter
print/x $cs
delete
watch *(int *)(0xC0000000 + (long)&counter)
continue
print *(int *)(long)&counter
delete
break *work
continue
print $ecx
delete
continue
